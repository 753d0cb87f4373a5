"""Académie: establishments, heads of establishment, agents' second factors and the services
(single sign-on clients)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts import otp
from educompte.accounts import services as account_services
from educompte.accounts.models import User
from educompte.schools import academy
from educompte.schools.models import Establishment
from educompte.sso import selectors as sso_selectors
from educompte.sso import services as sso_services
from educompte.www.academy.forms import EstablishmentForm, HeadForm, RenameForm, ServiceForm
from educompte.www.access import academy_required
from educompte.www.params import posted_id


@academy_required
def index(request: HttpRequest) -> HttpResponse:
    form = EstablishmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            est = academy.create(request.user, form.cleaned_data["uai"], form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("uai", " ".join(exc.messages))
        except ValueError:
            form.add_error("uai", _("Cet établissement existe déjà."))
        else:
            messages.success(request, _("Établissement %(uai)s créé.") % {"uai": est.uai})
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
                messages.success(request, _("Établissement renommé."))
                return redirect("academy:establishment", est.uai)
        elif what == "close":
            academy.close(request.user, est)
            messages.success(request, _("Établissement fermé : plus personne n'y a de droit."))
            return redirect("academy:establishment", est.uai)
        elif what == "reopen":
            academy.reopen(request.user, est)
            messages.success(request, _("Établissement rouvert."))
            return redirect("academy:establishment", est.uai)
        elif what == "appoint":
            head_form = HeadForm(request.POST)
            if head_form.is_valid():
                agent = User.objects.filter(
                    username=head_form.cleaned_data["agent"].strip().lower(), kind=User.Kind.AGENT
                ).first()
                if agent is None:
                    head_form.add_error("agent", _("Aucun agent n'a cet identifiant."))
                else:
                    account_services.appoint_head(est, agent, by=request.user)
                    messages.success(
                        request,
                        _("%(agent)s est chef d'établissement.") % {"agent": agent.display_name},
                    )
                    return redirect("academy:establishment", est.uai)
        elif what == "remove_head":
            agent = get_object_or_404(
                User, pk=posted_id(request.POST.get("agent")), kind=User.Kind.AGENT
            )
            account_services.remove_head(est, agent, by=request.user)
            messages.success(
                request,
                _("%(agent)s n'est plus chef d'établissement.") % {"agent": agent.display_name},
            )
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
            _(
                "Un administrateur ne peut pas réinitialiser son propre second "
                "facteur : demandez-le à un autre administrateur académique."
            ),
        )
    else:
        otp.reset_second_factor(agent, by=request.user)
        messages.success(
            request,
            _(
                "Second facteur de %(login)s réinitialisé : un nouveau lui sera "
                "demandé à sa prochaine connexion."
            )
            % {"login": agent.username},
        )
    return redirect(f"{reverse('academy:agents')}?{urlencode({'q': agent.username})}")


# --- Services (single sign-on clients) -----------------------------------------------------


def _service_initial(service) -> dict:
    return {
        "name": service.name,
        "redirect_uris": "\n".join(service.redirect_uris),
        "scopes": service.scopes,
        "home_url": service.home_url,
        "post_logout_redirect_uris": "\n".join(service.post_logout_redirect_uris),
    }


def _service_page(request: HttpRequest, svc, form: ServiceForm, secret: str | None = None):
    """The service's page. A new client secret is shown in the very response of the POST
    that made it: it is never stored in clear, not even in the session."""
    return render(
        request,
        "academy/service.html",
        {"service": svc, "form": form, "secret": secret},
        status=400 if form.errors else 200,
    )


@academy_required
def services(request: HttpRequest) -> HttpResponse:
    form = ServiceForm(request.POST or None, initial={"scopes": ["openid"]})
    if request.method == "POST" and form.is_valid():
        try:
            registered = sso_services.register_service(**form.values(), by=request.user)
        except ValidationError as exc:
            form.add_errors(exc)
        else:
            svc = registered.service
            messages.success(request, _("Service « %(name)s » enregistré.") % {"name": svc.name})
            form = ServiceForm(initial=_service_initial(svc))
            return _service_page(request, svc, form, secret=registered.client_secret)
    return render(
        request,
        "academy/services.html",
        {"form": form, "services": sso_selectors.services()},
        status=400 if form.errors else 200,
    )


@academy_required
def service(request: HttpRequest, service_id: int) -> HttpResponse:
    svc = get_object_or_404(sso_selectors.services(), pk=service_id)
    form = ServiceForm(initial=_service_initial(svc))
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "update":
            form = ServiceForm(request.POST)
            if form.is_valid():
                try:
                    sso_services.update_service(svc, **form.values(), by=request.user)
                except ValidationError as exc:
                    form.add_errors(exc)
                else:
                    messages.success(request, _("Service modifié."))
                    return redirect("academy:service", svc.pk)
        elif what == "new_secret":
            secret = sso_services.new_client_secret(svc, by=request.user)
            messages.success(request, _("Nouveau secret créé : l'ancien ne fonctionne plus."))
            return _service_page(request, svc, form, secret=secret)
        elif what == "revoke":
            if request.POST.get("confirm") == "1":
                name = svc.name
                sso_services.revoke_service(svc, by=request.user)
                messages.success(
                    request,
                    _("Service « %(name)s » révoqué : il ne peut plus connecter personne.")
                    % {"name": name},
                )
                return redirect("academy:services")
            messages.error(request, _("Cochez la case pour confirmer la révocation."))
            return redirect("academy:service", svc.pk)
    return _service_page(request, svc, form)
