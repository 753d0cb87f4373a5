"""The Dépannage table's rows, rendered in Python.

The console's page shows 50 pupils; written as template tags (two ``{% url %}``, three
translations and a dozen lookups per row) the rows were half of the page's time at
national scale (bench/search.py, docs/PERFORMANCE.md), and ``format_html`` per cell still
a tenth. Here the URLs are reversed and the labels translated once per page, and every
value from the database goes through ``html.escape`` (what Django's ``escape`` calls).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape as esc

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from educompte.pupils.models import AccountState, Student, StudentAccount

# An account id no real account has, replaced in the URL reversed once per page.
_SENTINEL = 987654321987

_EMAIL_BADGE = "fr-badge fr-badge--sm fr-badge--no-icon"
_EXPIRED_BADGE = "fr-badge fr-badge--sm fr-badge--error"
_BADGES = {
    AccountState.ACTIVE: "fr-badge--success",
    AccountState.INFORMED: "fr-badge--info",
    AccountState.NOT_INFORMED: "fr-badge--new",
}


@dataclass
class PupilRow:
    student: Student
    account: StudentAccount
    password: str | None
    expired: bool
    blocked_until: datetime.datetime | None


class _Urls:
    """One ``reverse()`` per URL name and page; each row substitutes its account id. The
    parts are escaped for HTML attributes once, here."""

    def __init__(self, name: str, uai: str) -> None:
        url = esc(reverse(name, args=[uai, _SENTINEL]))
        self._prefix, self._suffix = url.split(str(_SENTINEL))

    def __call__(self, account_id: int) -> str:
        return f"{self._prefix}{account_id}{self._suffix}"


def _day(value: datetime.datetime, fmt: str) -> str:
    return timezone.localtime(value).strftime(fmt)


def depannage_rows(rows: Iterable[PupilRow], uai: str, querystring: str) -> SafeString:
    """The ``<tr>`` of the Dépannage table (checkbox, name, class, identifier, provisional
    password, state, e-mail, reset button), identical to what the template wrote."""
    reset_url = _Urls("depannage:reset", uai)
    back = urlencode({"back": querystring})
    labels = {value: esc(label) for value, label in AccountState.choices}
    # Translations may hold quotes or "<": escaped once, like the template did.
    text = {
        "expired": _("Expiré"),
        "expires": _("expire le %(date)s"),
        "blocked": _("Bloqué jusqu'à %(until)s"),
        "unlock": _("Débloquer"),
        "confirmed": _("Confirmée"),
        "unconfirmed": _("Non confirmée"),
        "no_email": _("Non renseigné"),
        "reset": _("Réinitialiser le mot de passe"),
        "select": _("Sélectionner %(name)s"),
    }
    text = {key: esc(value) for key, value in text.items()}
    back = esc(back)
    rows_html = []
    for row in rows:
        s, a = row.student, row.account
        name = esc(s.full_name)
        password = ""
        if row.password:
            if row.expired:
                note = (
                    f' <span class="fr-badge fr-badge--sm fr-badge--error">{text["expired"]}</span>'
                )
            elif a.provisional_expires_at:
                date = _day(a.provisional_expires_at, "%d/%m/%Y")
                note = f'<br><span class="fr-text--xs">{text["expires"] % {"date": date}}</span>'
            else:
                note = ""
            password = f'<span class="ec-mono ec-password">{esc(row.password)}</span>{note}'
        state = (
            f'<span class="fr-badge fr-badge--sm {_BADGES.get(a.state, "")}">'
            f"{labels.get(a.state) or esc(a.state)}</span>"
        )
        if row.blocked_until:
            until = text["blocked"] % {"until": _day(row.blocked_until, "%d/%m %H:%M")}
            state += (
                f'<br><span class="fr-badge fr-badge--sm fr-badge--warning ec-blocked">{until}'
                f'</span> <button type="submit" form="unlock-{a.pk}" class="fr-btn fr-btn--sm '
                f'fr-btn--tertiary-no-outline">{text["unlock"]}<span class="fr-sr-only"> {name}'
                "</span></button>"
            )
        if a.email and a.email_confirmed:
            badge = f'<span class="{_EMAIL_BADGE} fr-badge--success">{text["confirmed"]}</span>'
            email = f"{esc(a.email)}<br>{badge}"
        elif a.email or a.pending_email:
            shown = esc(a.email or a.pending_email)
            email = f'{shown}<br><span class="{_EMAIL_BADGE}">{text["unconfirmed"]}</span>'
        else:
            email = f'<span class="ec-muted">{text["no_email"]}</span>'
        action = ""
        if a.state != AccountState.DEACTIVATED:
            url = reset_url(a.pk)
            action = (
                f'<a class="fr-btn fr-btn--sm fr-btn--tertiary ec-reset" href="{url}?{back}" '
                f'data-reset-url="{url}" data-pupil="{name}">{text["reset"]}</a>'
            )
        division = esc(s.division_code) if s.division_code else "—"
        select = text["select"] % {"name": name}
        rows_html.append(
            f'<tr data-account="{a.pk}"><td class="fr-cell--fixed">'
            '<div class="fr-checkbox-group fr-checkbox-group--sm">'
            f'<input type="checkbox" name="comptes" value="{a.pk}" id="sel-{a.pk}" '
            f'class="ec-row-select"><label class="fr-label" for="sel-{a.pk}">'
            f'<span class="fr-sr-only">{select}</span></label></div></td>'
            f'<td><span class="ec-last-name">{esc(s.last_name)}</span> {esc(s.first_name)}</td>'
            f'<td>{division}</td><td class="ec-mono">{esc(s.identifier)}</td>'
            f"<td>{password}</td><td>{state}</td><td>{email}</td><td>{action}</td></tr>\n"
        )
    return mark_safe("".join(rows_html))  # noqa: S308 - every value above is escaped


def hidden_ids(rows: Iterable[PupilRow], name: str = "page_ids") -> SafeString:
    """The page's account ids as hidden inputs (for "Sélectionner toute la page")."""
    return format_html_join(
        "", '<input type="hidden" name="{}" value="{}">', ((name, r.account.pk) for r in rows)
    )
