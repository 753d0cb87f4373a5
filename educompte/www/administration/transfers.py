"""Administration des comptes, tab "Transferts": requests of other establishments for this
establishment's pupils (accept or refuse), and the requests this establishment sent."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts.models import Right
from educompte.registry import transfers
from educompte.registry.models import TransferRequest
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.forms import DecisionForm


@establishment_right(Right.ADMINISTRATION)
def transfer_list(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    pending, decided = transfers.incoming(request.user, establishment)
    return render(
        request,
        "administration/transfers.html",
        console_context(
            request,
            establishment,
            "transfers",
            pending=pending,
            decided=decided,
            sent=transfers.outgoing(request.user, establishment),
        ),
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def decide(request: HttpRequest, establishment: Establishment, transfer_id: int) -> HttpResponse:
    transfer = get_object_or_404(TransferRequest, pk=transfer_id, from_establishment=establishment)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez d'accepter ou de refuser le transfert."))
        return redirect("administration:transfers", establishment.uai)
    accept = form.cleaned_data["decision"] == "accept"
    outcome = transfers.decide(request.user, transfer.pk, accept=accept)
    if outcome == transfers.Outcome.ACCEPTED:
        messages.success(
            request,
            _(
                "Transfert accepté : l'élève est désormais rattaché à %(name)s. Son compte "
                "est inchangé (identifiant, état, mot de passe)."
            )
            % {"name": transfer.to_establishment.name},
        )
    elif outcome == transfers.Outcome.REFUSED:
        messages.success(request, _("Transfert refusé : l'élève reste dans l'établissement."))
    elif outcome == transfers.Outcome.OBSOLETE:
        messages.info(
            request,
            _("Cette demande est sans objet : l'élève n'est plus dans l'établissement."),
        )
    else:
        messages.info(request, _("Cette demande a déjà été traitée."))
    return redirect("administration:transfers", establishment.uai)
