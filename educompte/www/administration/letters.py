"""Administration des comptes, tab "Courriers": letters or cards for a class or the whole
establishment, or the credentials as CSV."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from educompte.accounts.models import Right
from educompte.pupils import selectors
from educompte.schools.models import Division, Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.downloads import LETTER_ACTIONS, letters_response
from educompte.www.params import posted_id


@establishment_right(Right.ADMINISTRATION)
def letters_page(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """Courriers: letters or cards for a class or the whole establishment, or a CSV."""
    _mefs, divisions = selectors.filter_choices(request.user, establishment, Right.ADMINISTRATION)
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in LETTER_ACTIONS:
            messages.error(request, _("Choisissez un format."))
            return redirect("administration:letters", establishment.uai)
        division = None
        if request.POST.get("division"):
            division = get_object_or_404(
                Division, pk=posted_id(request.POST["division"]), establishment=establishment
            )
        return letters_response(request, establishment, kind=kind, division=division)
    overall, rows = selectors.activation_by_class(request.user, establishment)
    return render(
        request,
        "administration/letters.html",
        console_context(
            request,
            establishment,
            "letters",
            divisions=divisions,
            kinds=LETTER_ACTIONS,
            overall=overall,
            rows=rows,
        ),
    )
