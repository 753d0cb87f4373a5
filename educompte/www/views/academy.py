"""Académie: establishments, heads of establishment and agents' second factors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from dsfr.forms import DsfrBaseForm

from educompte.accounts import otp
from educompte.accounts import services as account_services
from educompte.accounts.models import User
from educompte.schools import academy
from educompte.schools.models import Establishment
from educompte.www.access import academy_required


def _int(value: str | None) -> int:
    """A posted id; anything else matches nothing (404), never a server error."""
    return int(value) if value and value.isdigit() else 0


class EstablishmentForm(DsfrBaseForm):
    uai = forms.CharField(
        label="UAI",
        max_length=8,
        help_text="7 chiffres et la lettre de contrôle, par exemple 0380001V.",
    )
    name = forms.CharField(label="Nom de l'établissement", max_length=200)


class RenameForm(DsfrBaseForm):
    name = forms.CharField(label="Nouveau nom", max_length=200)


class HeadForm(DsfrBaseForm):
    agent = forms.CharField(
        label="Agent à nommer chef d'établissement",
        max_length=150,
        help_text="Identifiant de connexion de l'agent.",
    )


@academy_required
def index(request: HttpRequest) -> HttpResponse:
    form = EstablishmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            est = academy.create(request.user, form.cleaned_data["uai"], form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("uai", " ".join(exc.messages))
        except ValueError:
            form.add_error("uai", "Cet établissement existe déjà.")
        else:
            messages.success(request, f"Établissement {est.uai} créé.")
            return redirect("academy:establishment", est.uai)
    establishments = Establishment.objects.order_by("closed_at", "name")
    return render(
        request,
        "academy/index.html",
        {
            "form": form,
            "establishments": establishments,
        },
        status=400 if form.errors else 200,
    )


@academy_required
def establishment(request: HttpRequest, uai: str) -> HttpResponse:
    est = get_object_or_404(Establishment, uai=uai.upper())
    rename_form = RenameForm(initial={"name": est.name})
    head_form = HeadForm()
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "rename":
            rename_form = RenameForm(request.POST)
            if rename_form.is_valid():
                academy.rename(request.user, est, rename_form.cleaned_data["name"])
                messages.success(request, "Établissement renommé.")
                return redirect("academy:establishment", est.uai)
        elif what == "close":
            academy.close(request.user, est)
            messages.success(request, "Établissement fermé : plus personne n'y a de droit.")
            return redirect("academy:establishment", est.uai)
        elif what == "reopen":
            academy.reopen(request.user, est)
            messages.success(request, "Établissement rouvert.")
            return redirect("academy:establishment", est.uai)
        elif what == "appoint":
            head_form = HeadForm(request.POST)
            if head_form.is_valid():
                agent = User.objects.filter(
                    username=head_form.cleaned_data["agent"].strip().lower(), kind=User.Kind.AGENT
                ).first()
                if agent is None:
                    head_form.add_error("agent", "Aucun agent n'a cet identifiant.")
                else:
                    account_services.appoint_head(est, agent, by=request.user)
                    messages.success(request, f"{agent.display_name} est chef d'établissement.")
                    return redirect("academy:establishment", est.uai)
        elif what == "remove_head":
            agent = get_object_or_404(
                User, pk=_int(request.POST.get("agent")), kind=User.Kind.AGENT
            )
            account_services.remove_head(est, agent, by=request.user)
            messages.success(request, f"{agent.display_name} n'est plus chef d'établissement.")
            return redirect("academy:establishment", est.uai)
    return render(
        request,
        "academy/establishment.html",
        {
            "est": est,
            "rename_form": rename_form,
            "head_form": head_form,
            "heads": account_services.heads_of(est),
        },
        status=400 if (rename_form.errors or head_form.errors) else 200,
    )


@academy_required
def agents(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    found = []
    if query:
        found = list(
            User.objects.filter(kind=User.Kind.AGENT)
            .filter(
                Q(username__icontains=query)
                | Q(last_name__icontains=query)
                | Q(first_name__icontains=query)
            )
            .order_by("username")[:50]
        )
    rows = [{"agent": a, "has_otp": otp.has_second_factor(a)} for a in found]
    return render(request, "academy/agents.html", {"query": query, "rows": rows})


@require_POST
@academy_required
def reset_otp(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(User, pk=agent_id, kind=User.Kind.AGENT)
    if agent == request.user:
        messages.error(
            request,
            "Un administrateur ne peut pas réinitialiser son propre second "
            "facteur : demandez-le à un autre administrateur académique.",
        )
    else:
        otp.reset_second_factor(agent, by=request.user)
        messages.success(
            request,
            f"Second facteur de {agent.username} réinitialisé : il "
            "l'enregistrera de nouveau à sa prochaine connexion.",
        )
    return redirect(f"{reverse('academy:agents')}?{urlencode({'q': agent.username})}")
