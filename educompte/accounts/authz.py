"""The one place that decides who may do what on which establishment.

Every view, command and selector that touches pupil data asks ``authorize`` (or the
helpers below, which read the same grants). Nothing is cached between requests, so a
delegation that ends or is revoked stops working on the agent's next request.
"""

from __future__ import annotations

import contextlib
import contextvars
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
    establishment, is no login, and is named so in the journal. Services take it where they
    take an agent; ``authorize`` accepts it. The one spelling of "no agent to check"."""

    pk = None
    username = "operator"
    is_authenticated = True
    is_agent = True
    is_pupil = False

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = Operator()


def _is_agent(user: object) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.is_active and user.is_agent


# Grants already read during the current request, when it changes nothing (see below).
_READ_ONCE: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "educompte_grants_read_once", default=None
)


@contextlib.contextmanager
def rights_read_once(enabled: bool = True) -> Iterator[None]:
    """Within a request that changes nothing (GET, HEAD), read each agent's grants once
    instead of once per check: the Dépannage page checked them three times (6 of its 15
    queries, bench/search.py). Grants are still read afresh by every request."""
    if not enabled:
        yield
        return
    token = _READ_ONCE.set({})
    try:
        yield
    finally:
        _READ_ONCE.reset(token)


def grants(user: object, today: datetime.date | None = None) -> dict[int, set[str]]:
    """Establishment id -> rights held today, from headships and live delegations."""
    if not _is_agent(user):
        return {}
    memo = _READ_ONCE.get()
    key = (user.pk, today)
    if memo is not None and key in memo:
        return {est_id: set(rights) for est_id, rights in memo[key].items()}
    result = _read_grants(user, today)
    if memo is not None:
        memo[key] = {est_id: set(rights) for est_id, rights in result.items()}
    return result


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
    """Academy administrators manage establishments, heads and second factors."""
    return user is OPERATOR or (_is_agent(user) and user.is_academy_admin)


def authorize(user: object, right: str, establishment: Establishment) -> None:
    """Raise PermissionDenied unless ``user`` holds ``right`` on ``establishment`` today."""
    if not has_right(user, right, establishment):
        raise PermissionDenied


def establishments_with_right(user: object, right: str) -> list[Establishment]:
    ids = [est_id for est_id, rights in grants(user).items() if right in rights]
    return list(Establishment.objects.filter(pk__in=ids).order_by("name"))


def applications_by_establishment(user: object) -> list[tuple[Establishment, list[str]]]:
    """What the portal lists: each establishment with the applications the agent may open."""
    held = grants(user)
    order = [Right.DEPANNAGE, Right.ADMINISTRATION]
    establishments = Establishment.objects.filter(pk__in=held.keys()).order_by("name")
    return [(est, [r for r in order if r in held[est.pk]]) for est in establishments]
