"""Staff agents, headships and delegations."""

from __future__ import annotations

import dataclasses
import datetime
import re

from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right, StaffAlert, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.schools.models import Establishment

_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class DelegationError(ValueError):
    """A delegation that cannot be granted. ``str()`` is the English reason (the command
    line prints it); ``message`` the French one for the console's form."""

    default_message = gettext_lazy("Délégation impossible : vérifiez l'agent et la date.")

    def __init__(self, reason: str, message: Promise | str | None = None) -> None:
        super().__init__(reason)
        self.message = message if message is not None else self.default_message


class EndInPast(DelegationError):
    default_message = gettext_lazy("La date de fin est déjà passée.")


class EndBeforeStart(DelegationError):
    default_message = gettext_lazy("La date de fin précède la date de début.")


class LongerThanAYear(DelegationError):
    default_message = gettext_lazy("Une délégation dure au plus un an.")


def validate_login(login: str) -> str:
    login = login.strip().lower()
    if not _LOGIN_RE.match(login):
        raise ValueError(
            f"invalid login {login!r}: 2 to 63 characters among a-z, 0-9, '.', '_' and '-'"
        )
    return login


@transaction.atomic
def add_agent(
    login: str,
    *,
    password: str | None,
    establishment: Establishment | None,
    role: str,
    first_name: str = "",
    last_name: str = "",
    actor: authz.Principal,
) -> User:
    """Create a staff agent (or give an existing one a place in another establishment).
    Academy administrators and the operator only."""
    authz.require_academy_admin(actor)
    login = validate_login(login)
    user = User.objects.filter(username=login).first()
    if user is not None and not user.is_agent:
        raise ValueError(f"{login!r} is a pupil identifier, not a staff login")
    if user is None:
        user = User.objects.create_user(
            login,
            password=password,
            kind=User.Kind.AGENT,
            first_name=first_name,
            last_name=last_name,
        )
        record(
            AuditEvent.Action.AGENT_CREATED,
            actor=actor,
            establishment=establishment,
            login=login,
            role=role,
        )
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    if role == "academy":
        user.is_academy_admin = True
        user.save(update_fields=["is_academy_admin"])
    elif establishment is not None:
        Assignment.objects.get_or_create(agent=user, establishment=establishment, role=role)
    authz.forget_grants(user)
    return user


def default_delegation_end(today: datetime.date | None = None) -> datetime.date:
    """End of the current school year (31 August)."""
    today = today or timezone.localdate()
    year = today.year if today.month < 9 else today.year + 1
    return datetime.date(year, 8, 31)


def one_year_after(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@transaction.atomic
def delegate(
    agent: User,
    establishment: Establishment,
    right: str,
    *,
    end: datetime.date,
    granted_by: authz.Principal,
    start: datetime.date | None = None,
) -> Delegation:
    """Grant ``right`` to ``agent`` until ``end``: the head of the establishment (or the
    operator) only. Raises a DelegationError (a ValueError) on a date or agent refused."""
    authz.require_head(granted_by, establishment)
    today = timezone.localdate()
    start = start or today
    if right not in Right.values:
        raise DelegationError(f"unknown right {right!r}: expected one of {', '.join(Right.values)}")
    if not agent.is_agent:
        raise DelegationError(f"{agent.username!r} is not a staff agent")
    if end < today:
        raise EndInPast(f"the end date {end.isoformat()} is in the past")
    if end < start:
        raise EndBeforeStart("the end date is before the start date")
    if end > one_year_after(today):
        raise LongerThanAYear("a delegation lasts at most one year")
    grantor = authz.as_user(granted_by)
    # Granting a right the agent already holds moves the end date of the live delegation.
    delegation = Delegation.objects.filter(
        agent=agent,
        establishment=establishment,
        right=right,
        revoked_at__isnull=True,
        start__lte=today,
        end__gte=today,
    ).first()
    if delegation is not None:
        delegation.end = end
        delegation.granted_by = grantor
        delegation.save(update_fields=["end", "granted_by"])
    else:
        delegation = Delegation.objects.create(
            agent=agent,
            establishment=establishment,
            right=right,
            start=start,
            end=end,
            granted_by=grantor,
        )
    record(
        AuditEvent.Action.DELEGATION_GRANTED,
        actor=granted_by,
        establishment=establishment,
        agent=agent.username,
        right=right,
        end=end.isoformat(),
    )
    authz.forget_grants(agent)
    return delegation


@transaction.atomic
def revoke_delegation(delegation: Delegation, *, by: authz.Principal) -> None:
    """End a delegation now; it stops working on the agent's next request. The head of
    the establishment (or the operator) only."""
    authz.require_head(by, delegation.establishment)
    if delegation.revoked_at is not None:
        return
    delegation.revoked_at = timezone.now()
    delegation.revoked_by = authz.as_user(by)
    delegation.save(update_fields=["revoked_at", "revoked_by"])
    record(
        AuditEvent.Action.DELEGATION_REVOKED,
        actor=by,
        establishment=delegation.establishment,
        agent=delegation.agent.username,
        right=delegation.right,
    )
    authz.forget_grants(delegation.agent)


def find_agent(query: str) -> User | None:
    """An agent by exact login, or by a name that designates a single agent."""
    query = query.strip()
    if not query:
        return None
    agents = User.objects.filter(kind=User.Kind.AGENT, is_active=True)
    exact = agents.filter(username=query.lower()).first()
    if exact is not None:
        return exact
    words = query.split()
    matches = agents
    for word in words:
        matches = matches.filter(
            models.Q(first_name__icontains=word) | models.Q(last_name__icontains=word)
        )
    found = list(matches[:2])
    return found[0] if len(found) == 1 else None


@transaction.atomic
def appoint_head(establishment: Establishment, agent: User, *, by: authz.Principal) -> Assignment:
    """Academy administrators (and the operator) only."""
    authz.require_academy_admin(by)
    if not agent.is_agent:
        raise ValueError(f"{agent.username!r} is not a staff agent")
    assignment, _created = Assignment.objects.update_or_create(
        agent=agent,
        establishment=establishment,
        role=Assignment.Role.HEAD,
        defaults={"start": timezone.localdate(), "end": None},
    )
    record(
        AuditEvent.Action.HEAD_APPOINTED,
        actor=by,
        establishment=establishment,
        agent=agent.username,
    )
    authz.forget_grants(agent)
    return assignment


@transaction.atomic
def remove_head(establishment: Establishment, agent: User, *, by: authz.Principal) -> None:
    """Academy administrators (and the operator) only."""
    authz.require_academy_admin(by)
    deleted, _ = Assignment.objects.filter(
        agent=agent, establishment=establishment, role=Assignment.Role.HEAD
    ).delete()
    if deleted:
        record(
            AuditEvent.Action.HEAD_REMOVED,
            actor=by,
            establishment=establishment,
            agent=agent.username,
        )
    authz.forget_grants(agent)


def dismiss_alert(alert: StaffAlert, *, by: authz.Principal) -> None:
    """Mark an alert read: the head of its establishment (or the operator) only."""
    authz.require_head(by, alert.establishment)
    alert.dismissed_at = timezone.now()
    alert.dismissed_by = authz.as_user(by)
    alert.save(update_fields=["dismissed_at", "dismissed_by"])


def heads_of(establishment: Establishment) -> list[User]:
    today = timezone.localdate()
    return list(
        User.objects.filter(
            models.Q(assignments__end__isnull=True) | models.Q(assignments__end__gte=today),
            assignments__establishment=establishment,
            assignments__role=Assignment.Role.HEAD,
            assignments__start__lte=today,
            is_active=True,
        ).distinct()
    )


@dataclasses.dataclass
class AgentSignIn:
    agent: User | None
    retry_at: datetime.datetime | None = None


def sign_in_agent(
    login: str, password: str, *, ip: str = "", now: datetime.datetime | None = None
) -> AgentSignIn:
    """Staff sign-in, throttled exactly like the pupils' (see accounts.throttling). Every
    checked attempt costs one Argon2id run, so that its time does not tell which logins
    exist (Django also runs the hasher once for an unusable hash)."""
    from educompte.accounts import throttling
    from educompte.core import hashers

    now = now or timezone.now()
    agent = User.objects.filter(
        username=(login or "").strip().lower(), kind=User.Kind.AGENT, is_active=True
    ).first()
    if agent is None:
        verdict = throttling.check(None, ip, now, name=login)
        if not verdict.allowed:
            return AgentSignIn(None, verdict.retry_at)
        hashers.dummy_verify(password)
        verdict = throttling.record_unknown_failure(ip, now, name=login)
        return AgentSignIn(None, None if verdict.allowed else verdict.retry_at)
    verdict = throttling.check(agent.pk, ip, now)
    if not verdict.allowed:
        return AgentSignIn(None, verdict.retry_at)
    if not agent.check_password(password):
        verdict = throttling.record_failure(agent.pk, ip, now)
        return AgentSignIn(None, None if verdict.allowed else verdict.retry_at)
    throttling.record_success(agent.pk, ip, verdict)
    return AgentSignIn(agent)
