"""The one place that decides who may do what on which establishment.

Every view, command and selector that touches pupil data asks ``authorize`` (or the
helpers below, which read the same grants). Nothing is cached between requests, so a
delegation that ends or is revoked stops working on the agent's next request.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from educompte.accounts.models import Assignment, Delegation, Right, User
from educompte.core.sql import column, table
from educompte.schools.models import Establishment

# Held by heads of establishment only, never delegated: granting and revoking delegations.
MANAGE_DELEGATIONS = "delegations"
# A right that includes others: administration covers everything dépannage does.
_IMPLIED = {Right.ADMINISTRATION: {Right.DEPANNAGE}}
HEAD_RIGHTS = frozenset({Right.DEPANNAGE, Right.ADMINISTRATION, MANAGE_DELEGATIONS})
# Applications that need a session verified by a second factor.
SECOND_FACTOR_RIGHTS = frozenset({Right.ADMINISTRATION, MANAGE_DELEGATIONS})


class Operator:
    """The operator at the command line (``educompte …``): holds every right on every
    establishment and is no login. Services take it where they take an agent; ``authorize``
    accepts it. The one spelling of "no agent to check". The journal records it as it
    always has: no actor and an empty label (``audit.record`` reads ``pk`` and
    ``username``)."""

    pk = None
    username = ""
    is_authenticated = True
    is_active = True
    is_agent = True
    is_pupil = False
    is_academy_admin = True

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = Operator()
# Who acts: an agent signed in, or the operator. Services take it and check it themselves.
Principal = User | Operator


def as_user(principal: Principal | None) -> User | None:
    """The principal as a login to store in a foreign key (``granted_by``, ``revoked_by``…):
    the operator is none."""
    return principal if isinstance(principal, User) else None


# --- Typed refusals ------------------------------------------------------------------------
# Subclasses of Django's PermissionDenied: a view that lets one through answers 403.


class Refused(PermissionDenied):
    """The principal may not do this."""


class NotAcademyAdmin(Refused):
    """Reserved to academy administrators (and the operator)."""


class NotHead(Refused):
    """Reserved to the head of the establishment (and the operator)."""


class RightMissing(Refused):
    """The principal holds no such right on the establishment today."""


def _is_agent(user: object) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.is_active and user.is_agent


# --- Rights read once per request ----------------------------------------------------------
# A page that changes nothing (GET, HEAD) checks the agent's rights several times (the
# decorator, the selectors, the tabs): the Dépannage page read them three times (6 of its 15
# queries, bench/search.py). Within such a request the grants read first are kept on the
# request's user object, which lives as long as the request; every request still reads them
# afresh. A write through the services forgets them.
_MEMO = "_educompte_grants_memo"


@contextlib.contextmanager
def rights_read_once(user: object, enabled: bool = True) -> Iterator[None]:
    """Within the block, ``grants(user)`` reads the database once (per day asked)."""
    if not enabled or not _is_agent(user) or getattr(user, _MEMO, None) is not None:
        yield  # nothing to keep, or an enclosing block keeps it already
        return
    setattr(user, _MEMO, {})
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            delattr(user, _MEMO)


def forget_grants(*users: object) -> None:
    """Rights changed: the next check of these users reads them again."""
    for user in users:
        memo = getattr(user, _MEMO, None)
        if memo:
            memo.clear()


def grants(user: object, today: datetime.date | None = None) -> dict[int, set[str]]:
    """Establishment id -> rights held today, from headships and live delegations."""
    if not _is_agent(user):
        return {}
    memo = getattr(user, _MEMO, None)
    if memo is None:
        return _read_grants(user, today)
    if today not in memo:
        memo[today] = _read_grants(user, today)
    return {est_id: set(rights) for est_id, rights in memo[today].items()}


# Headships (an empty right) and live delegations in one statement. Written in SQL: the
# ORM spent more time composing this UNION than the database took to answer it (a tenth
# of a Dépannage page, bench/search.py). Table and column names come from the models.
@functools.cache
def _grants_sql() -> str:
    def a(field: str) -> str:
        return column(Assignment, field, "a")

    def d(field: str) -> str:
        return column(Delegation, field, "d")

    def e(field: str) -> str:
        return column(Establishment, field, "e")

    return (
        f"SELECT {a('establishment')}, '' FROM {table(Assignment)} a "  # noqa: S608
        f"JOIN {table(Establishment)} e ON {e('id')} = {a('establishment')} "
        f"WHERE {a('agent')} = %s AND {a('role')} = %s AND {a('start')} <= %s "
        f"AND ({a('end')} IS NULL OR {a('end')} >= %s) AND {e('closed_at')} IS NULL "
        f"UNION ALL "
        f"SELECT {d('establishment')}, {d('right')} FROM {table(Delegation)} d "
        f"JOIN {table(Establishment)} e ON {e('id')} = {d('establishment')} "
        f"WHERE {d('agent')} = %s AND {d('start')} <= %s AND {d('end')} >= %s "
        f"AND {d('revoked_at')} IS NULL AND {e('closed_at')} IS NULL"
    )


def _read_grants(user: User, today: datetime.date | None) -> dict[int, set[str]]:
    day = connection.ops.adapt_datefield_value(today or timezone.localdate())
    with connection.cursor() as cursor:
        cursor.execute(
            _grants_sql(), [user.pk, Assignment.Role.HEAD.value, day, day, user.pk, day, day]
        )
        rows = cursor.fetchall()
    result: dict[int, set[str]] = {}
    for est_id, right in rows:
        rights = result.setdefault(est_id, set())
        if not right:
            rights.update(HEAD_RIGHTS)
        else:
            rights.add(right)
            rights.update(_IMPLIED.get(right, set()))
    return result


def has_right(user: object, right: str, establishment: Establishment) -> bool:
    if user is OPERATOR:
        return True
    return right in grants(user).get(establishment.pk, set())


def is_head(user: object, establishment: Establishment) -> bool:
    return has_right(user, MANAGE_DELEGATIONS, establishment)


def is_academy_admin(user: object) -> bool:
    """Academy administrators manage establishments, heads, second factors and services."""
    return user is OPERATOR or (_is_agent(user) and user.is_academy_admin)


def authorize(user: object, right: str, establishment: Establishment) -> None:
    """Raise a refusal (a PermissionDenied) unless ``user`` holds ``right`` on
    ``establishment`` today. The operator holds every right."""
    if has_right(user, right, establishment):
        return
    raise NotHead if right == MANAGE_DELEGATIONS else RightMissing


def require_head(user: object, establishment: Establishment) -> None:
    """Granting and revoking delegations: the head of the establishment, or the operator."""
    authorize(user, MANAGE_DELEGATIONS, establishment)


def require_academy_admin(user: object) -> None:
    """The one academy check: establishments, heads, second factors, services."""
    if not is_academy_admin(user):
        raise NotAcademyAdmin


def establishments_with_right(user: object, right: str) -> list[Establishment]:
    ids = [est_id for est_id, rights in grants(user).items() if right in rights]
    return list(Establishment.objects.filter(pk__in=ids).order_by("name"))


def applications_by_establishment(user: object) -> list[tuple[Establishment, list[str]]]:
    """What the portal lists: each establishment with the applications the agent may open."""
    held = grants(user)
    order = [Right.DEPANNAGE, Right.ADMINISTRATION]
    establishments = Establishment.objects.filter(pk__in=held.keys()).order_by("name")
    return [(est, [r for r in order if r in held[est.pk]]) for est in establishments]
