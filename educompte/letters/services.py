"""Handing pupils their credentials: printed letters and the staff's CSV export."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record, record_many
from educompte.core.text import spreadsheet_cell
from educompte.letters import pdf
from educompte.pupils import lifecycle
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import provisional_expired, provisional_password
from educompte.schools.models import Division, Establishment

DEFAULT_SIGN_IN_URL = "http://127.0.0.1:8000/connexion/"
FORMATS = pdf.FORMATS

CSV_HEADER = [
    "Nom",
    "Prénom",
    "Classe",
    "Identifiant",
    "Mot de passe provisoire",
    "Expire le",
    "État du compte",
]


@dataclasses.dataclass
class LettersResult:
    pdf: bytes
    count: int  # letters in the PDF
    skipped_activated: int  # activated accounts left out: they need a reset instead


def _authorize(agent: User | authz.Operator | None, establishment: Establishment) -> None:
    """Dépannage on the establishment; the command line passes ``authz.OPERATOR``."""
    authz.authorize(agent, Right.DEPANNAGE, establishment)


def _targets(
    establishment: Establishment,
    account_ids: list[int] | None,
    division: Division | None,
) -> QuerySet[StudentAccount]:
    """The establishment's accounts, narrowed to a selection and/or a class. Ids of other
    establishments simply match nothing; an empty selection prints nothing (never the
    whole establishment)."""
    qs = StudentAccount.objects.filter(student__establishment=establishment)
    if division is not None:
        if division.establishment_id != establishment.pk:
            raise ValidationError(_("Cette classe n'appartient pas à l'établissement."))
        qs = qs.filter(student__division=division)
    if account_ids is not None:
        qs = qs.filter(pk__in=account_ids)
    # Class then normalised name ("Éléonore" among the E's); pupils without a class last
    # on every database.
    return qs.select_related("user", "student", "student__division").order_by(
        F("student__division__code").asc(nulls_last=True), "student__search_name", "pk"
    )


def _expiry_day(account: StudentAccount) -> datetime.date:
    return timezone.localdate(account.provisional_expires_at)


@transaction.atomic
def issue_letters(
    agent: User | authz.Operator | None,
    establishment: Establishment,
    *,
    account_ids: list[int] | None = None,
    division: Division | None = None,
    fmt: str = "page",
    now: datetime.datetime | None = None,
    sign_in_url: str = DEFAULT_SIGN_IN_URL,
) -> LettersResult:
    """Print the credentials of the targeted accounts that are not activated yet.

    Target: ``account_ids`` (of this establishment), else ``division``, else the whole
    establishment. Expired provisional passwords are renewed first, "Non activé - non
    informé" accounts become "Non activé - informé", and each letter is audited — all in
    one transaction, so a failure leaves no account marked informed without its letter.
    """
    _authorize(agent, establishment)
    if fmt not in FORMATS:
        raise ValueError(f"unknown letter format {fmt!r}")
    now = now or timezone.now()
    accounts = list(
        _targets(establishment, account_ids, division)
        .exclude(state=AccountState.DEACTIVATED)
        .select_for_update(of=("self",))
    )
    printed: list[StudentAccount] = []
    renewed: set[int] = set()
    letters: list[pdf.LetterData] = []
    skipped_activated = 0
    for account in accounts:
        if not lifecycle.allowed(lifecycle.Event.LETTER, account.state):  # activated
            skipped_activated += 1
            continue
        password = provisional_password(account)
        # A letter with a dead password would only send the pupil back to the office.
        if (
            password is None
            or account.provisional_expires_at is None
            or provisional_expired(account, now)
        ):
            password = lifecycle.renew(account, now=now)
            renewed.add(account.pk)
        student = account.student
        letters.append(
            pdf.LetterData(
                establishment_name=establishment.name,
                establishment_uai=establishment.uai,
                first_name=student.first_name,
                last_name=student.last_name,
                division=student.division.code if student.division else "",
                identifier=account.identifier,
                password=password,
                expires_on=_expiry_day(account),
                sign_in_url=sign_in_url,
            )
        )
        printed.append(account)

    # Rendered before anything is marked: if it fails, nothing has changed.
    document = pdf.render(letters, fmt)

    lifecycle.mark_informed(printed)
    # One event per account, so the pupil's own history shows the letter too.
    record_many(
        AuditEvent.Action.LETTER_ISSUED,
        [
            (
                account,
                {"format": fmt, "renewed": True} if account.pk in renewed else {"format": fmt},
            )
            for account in printed
        ],
        actor=agent,
        establishment=establishment,
    )
    return LettersResult(pdf=document, count=len(printed), skipped_activated=skipped_activated)


def export_credentials_csv(
    agent: User | authz.Operator | None,
    establishment: Establishment,
    *,
    account_ids: list[int] | None = None,
    division: Division | None = None,
) -> bytes:
    """The targeted accounts' credentials as ';'-separated UTF-8 with a BOM (a French
    spreadsheet opens it directly). Activated accounts are listed without a password;
    deactivated ones are left out. Exporting changes no account state."""
    _authorize(agent, establishment)
    accounts = _targets(establishment, account_ids, division)
    accounts = accounts.exclude(state=AccountState.DEACTIVATED)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for account in accounts.iterator(chunk_size=1000):
        student = account.student
        password = provisional_password(account) or ""
        expires = (
            f"{_expiry_day(account):%d/%m/%Y}"
            if password and account.provisional_expires_at
            else ""
        )
        writer.writerow(
            [
                spreadsheet_cell(student.last_name),
                spreadsheet_cell(student.first_name),
                spreadsheet_cell(student.division.code if student.division else ""),
                spreadsheet_cell(account.identifier),
                spreadsheet_cell(password),
                expires,
                str(account.get_state_display()),
            ]
        )
        count += 1
    details: dict[str, object] = {"count": count}
    if division is not None:
        details["division"] = division.code
    record(
        AuditEvent.Action.CREDENTIALS_EXPORTED,
        actor=agent,
        establishment=establishment,
        **details,
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
