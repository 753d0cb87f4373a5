"""Files the console offers: letters (PDF), credentials and journal exports (CSV)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from educompte.core.links import absolute_reverse
from educompte.letters import services as letters
from educompte.schools.models import Division, Establishment

# The letters actions, offered on the "Courriers" tab and on a selection of pupils.
LETTER_ACTIONS = {
    "letters_page": gettext_lazy("Courriers (une page par élève)"),
    "letters_cards": gettext_lazy("Cartes (8 par page)"),
    "credentials_csv": gettext_lazy("Export CSV des identifiants"),
}


def stamp() -> str:
    """The date and minute in a file's name."""
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def attachment(response: HttpResponse, name: str) -> HttpResponse:
    """Offer ``response`` as a download named ``name``. Names carry class codes, which come
    from registry files: only letters (accents kept), digits, ``-``, ``_`` and ``.`` stay,
    and the header is written by Django's RFC 6266 helper (``filename*`` when non-ASCII), so
    that no quote, semicolon or line break can add a parameter or a header."""
    safe = get_valid_filename(name.replace("\n", " ").replace("\r", " "))
    response["Content-Disposition"] = content_disposition_header(True, safe)
    return response


def letters_response(
    request: HttpRequest,
    establishment: Establishment,
    *,
    kind: str,
    account_ids: list[int] | None = None,
    division: Division | None = None,
) -> HttpResponse:
    """Run a letters action (a key of LETTER_ACTIONS) and answer with the file."""
    when = stamp()
    scope = division.code if division else ("selection" if account_ids is not None else "tous")
    if kind == "credentials_csv":
        body = letters.export_credentials_csv(
            request.user, establishment, account_ids=account_ids, division=division
        )
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"identifiants-{establishment.uai}-{scope}-{when}.csv"
    else:
        result = letters.issue_letters(
            request.user,
            establishment,
            account_ids=account_ids,
            division=division,
            fmt="cards" if kind == "letters_cards" else "page",
            sign_in_url=absolute_reverse("pupil:login"),
        )
        if not result.count:
            messages.warning(
                request,
                _(
                    "Aucun courrier à éditer : les comptes choisis sont déjà "
                    "activés ou désactivés (réinitialisez-les si besoin)."
                ),
            )
            return redirect("administration:letters", establishment.uai)
        response = HttpResponse(result.pdf, content_type="application/pdf")
        name = f"courriers-{establishment.uai}-{scope}-{when}.pdf"
    return attachment(response, name)
