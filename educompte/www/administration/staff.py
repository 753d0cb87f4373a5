"""Administration des comptes, tab "Personnels": the head of the establishment lists its
agents and invites new ones (they receive a link to choose their password)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts import authz, staff
from educompte.accounts import selectors as account_selectors
from educompte.core import after_response
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.forms import InviteAgentForm
from educompte.www.params import posted_id


@establishment_right(authz.MANAGE_DELEGATIONS)
def staff_list(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form = InviteAgentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agent = staff.invite_agent(
                request.user,
                establishment,
                defer=after_response.deferrer(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            if agent.has_usable_password():
                text = _(
                    "%(name)s (%(login)s) a déjà un compte : il ou elle fait maintenant partie "
                    "des personnels de l'établissement."
                )
            else:
                text = _(
                    "Invitation envoyée à %(email)s : %(name)s (identifiant %(login)s) choisira "
                    "son mot de passe avec le lien reçu, valable 7 jours."
                )
            messages.success(
                request,
                text % {"name": agent.display_name, "login": agent.username, "email": agent.email},
            )
            return redirect("administration:staff", establishment.uai)
    agents = staff.staff_of(request.user, establishment)
    rights = account_selectors.live_rights_of(agents, establishment)
    rows = [{"agent": a, "rights": rights.get(a.pk, [])} for a in agents]
    return render(
        request,
        "administration/staff.html",
        console_context(request, establishment, "staff", form=form, rows=rows),
        status=400 if form.errors else 200,
    )


@require_POST
@establishment_right(authz.MANAGE_DELEGATIONS)
def resend_invitation(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """A new invitation link for an agent of the establishment who has not chosen a
    password yet."""
    agent = staff.invite_again(
        request.user,
        establishment,
        posted_id(request.POST.get("agent")),
        defer=after_response.deferrer(request),
    )
    if agent is not None:
        messages.success(
            request, _("Nouvelle invitation envoyée à %(email)s.") % {"email": agent.email}
        )
    return redirect("administration:staff", establishment.uai)
