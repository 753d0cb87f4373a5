"""Administration des comptes, tab "Délégations": the head of the establishment grants
and revokes the agents' rights."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts import authz, staff
from educompte.accounts import selectors as account_selectors
from educompte.accounts import services as account_services
from educompte.accounts.models import Delegation
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.forms import DelegationForm


@establishment_right(authz.MANAGE_DELEGATIONS)
def delegations(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form = DelegationForm(
        request.POST or None, initial={"end": account_services.default_delegation_end()}
    )
    if request.method == "POST" and form.is_valid():
        agent = account_services.find_agent(form.cleaned_data["agent"])
        if agent is None:
            form.add_error(
                "agent",
                _(
                    "Aucun agent ne correspond (ou plusieurs) : saisissez son "
                    "identifiant de connexion."
                ),
            )
        elif agent == request.user:
            form.add_error("agent", _("Vous détenez déjà tous les droits sur cet établissement."))
        else:
            try:
                account_services.delegate(
                    agent,
                    establishment,
                    form.cleaned_data["right"],
                    end=form.cleaned_data["end"],
                    granted_by=request.user,
                )
            except account_services.DelegationError as exc:
                form.add_error("end", exc.message)
            else:
                messages.success(
                    request,
                    _("Délégation accordée à %(name)s (%(username)s) jusqu'au %(end)s.")
                    % {
                        "name": agent.display_name,
                        "username": agent.username,
                        "end": f"{form.cleaned_data['end']:%d/%m/%Y}",
                    },
                )
                return redirect("administration:delegations", establishment.uai)
    rows = [
        {"d": d, "live": account_selectors.is_live(d)}
        for d in account_selectors.delegations_of(request.user, establishment)
    ]
    return render(
        request,
        "administration/delegations.html",
        console_context(
            request,
            establishment,
            "delegations",
            form=form,
            rows=rows,
            heads=account_services.heads_of(establishment),
            staff=staff.staff_of(request.user, establishment),
        ),
        status=400 if form.errors else 200,
    )


@require_POST
@establishment_right(authz.MANAGE_DELEGATIONS)
def revoke_delegation(
    request: HttpRequest, establishment: Establishment, delegation_id: int
) -> HttpResponse:
    delegation = get_object_or_404(Delegation, pk=delegation_id, establishment=establishment)
    account_services.revoke_delegation(delegation, by=request.user)
    messages.success(
        request,
        _("La délégation de %(name)s est révoquée : elle cesse immédiatement.")
        % {"name": delegation.agent.display_name},
    )
    return redirect("administration:delegations", establishment.uai)
