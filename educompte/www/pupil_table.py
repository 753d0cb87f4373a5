"""The rows of the consoles' pupil tables (Dépannage and Administration), rendered in
Python by one renderer.

A console's page shows 50 pupils; written as template tags (two ``{% url %}``, three
translations and a dozen lookups per row) the rows were half of the Dépannage page's time
at national scale (bench/search.py, docs/PERFORMANCE.md), and ``format_html`` per cell
still a tenth. Here the URLs are reversed and the labels translated once per page, and
every value from the database goes through ``html.escape`` (what Django's ``escape``
calls). What differs between the two consoles' tables is a :class:`Table`.
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

from educompte.pupils import services
from educompte.pupils.models import AccountState, Student, StudentAccount

# An account id no real account has, replaced in the URL reversed once per page.
_SENTINEL = 987654321987

_BADGE = "fr-badge fr-badge--sm"
_EMAIL_BADGE = f"{_BADGE} fr-badge--no-icon"
# The colour of each account state's badge, wherever a state is shown as a badge.
STATE_BADGES = {
    AccountState.ACTIVE: "fr-badge--success",
    AccountState.INFORMED: "fr-badge--info",
    AccountState.NOT_INFORMED: "fr-badge--new",
}


@dataclass(frozen=True)
class Table:
    """The columns of a console's table beyond those both share (selection checkbox,
    name, class, identifier, state, e-mail)."""

    # Dépannage: <tr data-account> and the last name in its own <span> (for the page's
    # script), the provisional password, the unlock button in the state cell, whether the
    # address is confirmed, and the reset button.
    passwords: bool
    # Administration: a "Connexion" column that tells until when the account is blocked.
    sign_in_column: bool
    # The URL name of the reset page, when there is a reset button.
    reset_url_name: str = ""


DEPANNAGE = Table(passwords=True, sign_in_column=False, reset_url_name="depannage:reset")
ADMINISTRATION = Table(passwords=False, sign_in_column=True)


@dataclass
class PupilRow:
    student: Student
    account: StudentAccount
    password: str | None
    expired: bool
    blocked_until: datetime.datetime | None

    @classmethod
    def of(cls, student: Student, now: datetime.datetime, *, password: bool) -> PupilRow:
        """The row of a student of the console's search (``student.account`` and
        ``student.blocked_until`` selected with it); ``password``: decrypt the provisional
        password (Dépannage only)."""
        account = student.account
        return cls(
            student=student,
            account=account,
            password=services.provisional_password(account) if password else None,
            expired=services.provisional_expired(account, now) if password else False,
            blocked_until=student.blocked_until,
        )


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


def state_badge_class(state: str) -> str:
    """The classes of the badge of an account ``state``."""
    colour = STATE_BADGES.get(state)
    return f"{_BADGE} {colour}" if colour else _BADGE


def pupil_rows(rows: Iterable[PupilRow], table: Table, uai: str, querystring: str) -> SafeString:
    """The ``<tr>`` of a console's table of pupils, as ``table`` says."""
    reset_url = _Urls(table.reset_url_name, uai) if table.reset_url_name else None
    labels = {value: esc(label) for value, label in AccountState.choices}
    badges = {value: state_badge_class(value) for value in AccountState.values}
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
        "born": _("Naissance : %(date)s"),
    }
    text = {key: esc(value) for key, value in text.items()}
    back = esc(urlencode({"back": querystring}))
    rows_html = []
    for row in rows:
        s, a = row.student, row.account
        name = esc(s.full_name)
        # The date of birth tells homonyms apart, in the row and in the reset dialog.
        born = text["born"] % {"date": f"{s.birth_date:%d/%m/%Y}"}
        details = f"{esc(s.division_code) if s.division_code else '—'} — {born}"
        blocked = ""
        if row.blocked_until:
            blocked = text["blocked"] % {"until": _day(row.blocked_until, "%d/%m %H:%M")}
        state = (
            f'<span class="{badges.get(a.state, _BADGE)}">'
            f"{labels.get(a.state) or esc(a.state)}</span>"
        )
        cells = [
            f'<td class="fr-cell--fixed"><div class="fr-checkbox-group fr-checkbox-group--sm">'
            f'<input type="checkbox" name="comptes" value="{a.pk}" id="sel-{a.pk}" '
            f'class="ec-row-select"><label class="fr-label" for="sel-{a.pk}">'
            f'<span class="fr-sr-only">{text["select"] % {"name": name}}</span></label></div></td>',
            f'<td><span class="ec-last-name">{esc(s.last_name)}</span> {esc(s.first_name)}'
            f'<br><span class="fr-text--xs ec-birth">{born}</span></td>'
            if table.passwords
            else f"<td>{esc(s.last_name)} {esc(s.first_name)}"
            f'<br><span class="fr-text--xs ec-birth">{born}</span></td>',
            f"<td>{esc(s.division_code) if s.division_code else '—'}</td>",
            f'<td class="ec-mono">{esc(s.identifier)}</td>',
        ]
        if table.passwords:
            cells.append(f"<td>{_password(row, text)}</td>")
            if blocked:
                state += (
                    f'<br><span class="{_BADGE} fr-badge--warning ec-blocked">{blocked}</span> '
                    f'<button type="submit" form="unlock-{a.pk}" class="fr-btn fr-btn--sm '
                    f'fr-btn--tertiary-no-outline">{text["unlock"]}<span class="fr-sr-only"> '
                    f"{name}</span></button>"
                )
        cells.append(f"<td>{state}</td>")
        if table.sign_in_column:
            cells.append(
                f'<td><span class="{_BADGE} fr-badge--warning">{blocked}</span></td>'
                if blocked
                else "<td>—</td>"
            )
        cells.append(f"<td>{_email(a, text, confirmation=table.passwords)}</td>")
        if reset_url is not None:
            action = ""
            if a.state != AccountState.DEACTIVATED:
                url = reset_url(a.pk)
                action = (
                    f'<a class="fr-btn fr-btn--sm fr-btn--tertiary ec-reset" href="{url}?{back}" '
                    f'data-reset-url="{url}" data-pupil="{name}" data-details="{details}">'
                    f"{text['reset']}</a>"
                )
            cells.append(f"<td>{action}</td>")
        opening = f'<tr data-account="{a.pk}">' if table.passwords else "<tr>"
        rows_html.append(f"{opening}{''.join(cells)}</tr>\n")
    return mark_safe("".join(rows_html))  # noqa: S308 - every value above is escaped


def _password(row: PupilRow, text: dict[str, str]) -> str:
    if not row.password:
        return ""
    if row.expired:
        note = f' <span class="{_BADGE} fr-badge--error">{text["expired"]}</span>'
    elif row.account.provisional_expires_at:
        date = _day(row.account.provisional_expires_at, "%d/%m/%Y")
        note = f'<br><span class="fr-text--xs">{text["expires"] % {"date": date}}</span>'
    else:
        note = ""
    return f'<span class="ec-mono ec-password">{esc(row.password)}</span>{note}'


def _email(a: StudentAccount, text: dict[str, str], *, confirmation: bool) -> str:
    if not (a.email or a.pending_email):
        return f'<span class="ec-muted">{text["no_email"]}</span>'
    if not confirmation:
        return esc(a.email or a.pending_email)
    if a.email and a.email_confirmed:
        badge = f'<span class="{_EMAIL_BADGE} fr-badge--success">{text["confirmed"]}</span>'
        return f"{esc(a.email)}<br>{badge}"
    badge = f'<span class="{_EMAIL_BADGE}">{text["unconfirmed"]}</span>'
    return f"{esc(a.email or a.pending_email)}<br>{badge}"


def hidden_ids(rows: Iterable[PupilRow], name: str = "page_ids") -> SafeString:
    """The page's account ids as hidden inputs (for "Sélectionner toute la page")."""
    return format_html_join(
        "", '<input type="hidden" name="{}" value="{}">', ((name, r.account.pk) for r in rows)
    )
