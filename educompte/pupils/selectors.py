"""Queries of pupil data. Each one is scoped through the authorisation function first."""

from __future__ import annotations

import dataclasses
import functools

from django.db import connection
from django.db.models import F, OuterRef, QuerySet
from django.http import Http404

from educompte.accounts import authz, throttling
from educompte.accounts.models import Right, User
from educompte.core.sql import column, table
from educompte.core.text import normalize
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.schools.models import Division, Establishment, Mef

SORTS = {
    # The normalised name sorts "Éléonore" with the E's, as a French reader expects.
    "nom": ("search_name", "pk"),
    "-nom": ("-search_name", "-pk"),
    "classe": ("division__code", "search_name", "pk"),
    "-classe": ("-division__code", "search_name", "pk"),
}
DEFAULT_SORT = "nom"
_LISTED_COLUMNS = (
    "establishment_id",
    "last_name",
    "first_name",
    "birth_date",  # shown under the name: homonyms are told apart
    "division",
    "account__student_id",
    "account__user",
    "account__state",
    "account__provisional_password_encrypted",
    "account__provisional_issued_at",
    "account__provisional_expires_at",
    "account__email",
    "account__email_confirmed",
    "account__pending_email",
    "account__activated_at",
)


@dataclasses.dataclass
class PupilFilters:
    query: str = ""
    mef: int | None = None
    division: int | None = None
    state: str = ""
    sort: str = DEFAULT_SORT


def search_pupils(
    agent: User, establishment: Establishment, filters: PupilFilters, right: str = Right.DEPANNAGE
) -> QuerySet[Student]:
    """The pupils (with an account) of one establishment matching the console's filters.

    The name filter is partial and ignores case, accents, apostrophes and hyphens: every
    word typed must appear in the pupil's normalised "last first" name. One word with
    digits is an identifier (« nzoe893 »; names have no digits): the pupil whose it is.
    """
    authz.authorize(agent, right, establishment)
    # Every pupil has their account (both are created, and erased, in one transaction), so
    # the count needs no join: on 2 000 pupils, 0.4 ms instead of 6 ms.
    qs = Student.objects.filter(establishment=establishment)
    words = normalize(filters.query).split()
    if len(words) == 1 and any(c.isdigit() for c in words[0]):
        # The login's unique index finds it; the establishment filter keeps the scope.
        qs = qs.filter(account__user__username=words[0])
        words = []
    for word in words:
        qs = qs.filter(search_name__contains=word)
    if filters.mef:
        qs = qs.filter(mef_id=filters.mef)
    if filters.division:
        qs = qs.filter(division_id=filters.division)
    if filters.state in AccountState.values:
        qs = qs.filter(account__state=filters.state)
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    # Only the columns the consoles show, and the identifier and class code as values
    # rather than two more objects per row: a page of 50 pupils spent more time building
    # objects and converting timestamps than querying. The sign-in lock comes with each row
    # (a query less per page); a count ignores all three.
    return (
        qs.select_related("account")
        .only(*_LISTED_COLUMNS)
        .annotate(
            identifier=F("account__user__username"),
            division_code=F("division__code"),
            blocked_until=throttling.locked_until(OuterRef("account__user_id")),
        )
        .order_by(*order)
    )


def get_account(
    agent: User, establishment: Establishment, account_id: int, right: str = Right.DEPANNAGE
) -> StudentAccount:
    """One account of the establishment, or 404 — the same answer whether the account
    does not exist or belongs to another establishment."""
    authz.authorize(agent, right, establishment)
    account = (
        StudentAccount.objects.select_related("user", "student", "student__division")
        .filter(pk=account_id, student__establishment=establishment)
        .first()
    )
    if account is None:
        raise Http404
    return account


def get_accounts(
    agent: User, establishment: Establishment, account_ids: list[int], right: str = Right.DEPANNAGE
) -> list[StudentAccount]:
    authz.authorize(agent, right, establishment)
    return list(
        StudentAccount.objects.select_related("user", "student", "student__division")
        .filter(pk__in=account_ids, student__establishment=establishment)
        .order_by("student__last_name", "student__first_name")
    )


def filter_choices(
    agent: User, establishment: Establishment, right: str = Right.DEPANNAGE
) -> tuple[list[Mef], list[Division]]:
    """The MEFs and classes that the establishment's pupils are in, for the filter lists
    (objects holding the primary key and the label or code only)."""
    authz.authorize(agent, right, establishment)
    with connection.cursor() as cursor:
        cursor.execute(_filter_choices_sql(), [establishment.pk, establishment.pk])
        rows = cursor.fetchall()
    mefs: list[Mef] = []
    divisions: list[Division] = []
    for pk, text, kind in rows:
        if kind == "d":
            divisions.append(Division(pk=pk, code=text, establishment=establishment))
        else:
            mefs.append(Mef(pk=pk, label=text))
    mefs.sort(key=lambda m: m.label)
    divisions.sort(key=lambda d: d.code)
    return mefs, divisions


@functools.cache
def _filter_choices_sql() -> str:
    """The classes and the MEFs of one establishment's pupils in one statement: semi-joins
    (one index probe per class; MEF ids from the (establishment, MEF) index) rather than
    DISTINCT over a join. Written in SQL: composing this UNION took the ORM longer than
    the database took to answer (bench/search.py). Names come from the models."""

    def s(field: str) -> str:
        return column(Student, field, "s")

    def d(field: str) -> str:
        return column(Division, field, "d")

    def m(field: str) -> str:
        return column(Mef, field, "m")

    return (
        f"SELECT {d('id')}, {d('code')}, 'd' FROM {table(Division)} d "  # noqa: S608
        f"WHERE {d('establishment')} = %s AND EXISTS (SELECT 1 FROM {table(Student)} s "
        f"WHERE {s('division')} = {d('id')}) "
        f"UNION ALL "
        f"SELECT {m('id')}, {m('label')}, 'm' FROM {table(Mef)} m "
        f"WHERE {m('id')} IN (SELECT {s('mef')} FROM {table(Student)} s "
        f"WHERE {s('establishment')} = %s)"
    )


def count_active_accounts(
    agent: User,
    establishment: Establishment,
    *,
    division: Division | None = None,
    right: str = Right.ADMINISTRATION,
) -> int:
    """Accounts a forced change would touch (every state but "Désactivé")."""
    authz.authorize(agent, right, establishment)
    qs = StudentAccount.objects.filter(student__establishment=establishment).exclude(
        state=AccountState.DEACTIVATED
    )
    if division is not None:
        qs = qs.filter(student__division=division)
    return qs.count()


@dataclasses.dataclass
class ActivationRow:
    label: str
    division_id: int | None
    active: int = 0
    informed: int = 0
    not_informed: int = 0

    @property
    def total(self) -> int:
        return self.active + self.informed + self.not_informed

    @property
    def rate(self) -> int:
        """Activated share of the accounts in use (deactivated ones don't count), in %."""
        return round(100 * self.active / self.total) if self.total else 0

    def widths(self, scale: float) -> tuple[float, float, float]:
        if not self.total:
            return (0.0, 0.0, 0.0)
        return tuple(
            round(scale * n / self.total, 1)
            for n in (self.active, self.informed, self.not_informed)
        )


def activation_by_class(
    agent: User, establishment: Establishment, right: str = Right.ADMINISTRATION
) -> tuple[ActivationRow, list[ActivationRow]]:
    """Accounts per state for each class and for the whole establishment (one query)."""
    from django.db.models import Count

    authz.authorize(agent, right, establishment)
    counts = (
        StudentAccount.objects.filter(student__establishment=establishment)
        .exclude(state=AccountState.DEACTIVATED)
        .values("student__division_id", "student__division__code", "state")
        .annotate(n=Count("pk"))
    )
    rows: dict[int | None, ActivationRow] = {}
    overall = ActivationRow(label=establishment.name, division_id=None)
    field = {
        AccountState.ACTIVE: "active",
        AccountState.INFORMED: "informed",
        AccountState.NOT_INFORMED: "not_informed",
    }
    for item in counts:
        key = item["student__division_id"]
        row = rows.setdefault(
            key,
            ActivationRow(label=item["student__division__code"] or "Sans classe", division_id=key),
        )
        name = field[item["state"]]
        setattr(row, name, getattr(row, name) + item["n"])
        setattr(overall, name, getattr(overall, name) + item["n"])
    return overall, sorted(rows.values(), key=lambda r: r.label)
