"""Academy administrators' changes to establishments (services)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.schools.models import Establishment
from educompte.schools.services import add_establishment


class NotAcademyAdmin(Exception):
    pass


def _require(user: User) -> None:
    if not authz.is_academy_admin(user):
        raise NotAcademyAdmin


def create(user: User, uai: str, name: str) -> Establishment:
    _require(user)
    return add_establishment(uai, name, actor=user)


@transaction.atomic
def rename(user: User, establishment: Establishment, name: str) -> None:
    _require(user)
    name = name.strip()
    if not name:
        raise ValueError("empty name")
    old = establishment.name
    establishment.name = name
    establishment.save(update_fields=["name"])
    record(
        AuditEvent.Action.ESTABLISHMENT_UPDATED,
        actor=user,
        establishment=establishment,
        old_name=old,
        new_name=name,
    )


@transaction.atomic
def close(user: User, establishment: Establishment) -> None:
    """A closed establishment gives nobody any right on it (its data stay for the archive)."""
    _require(user)
    if establishment.closed_at is None:
        establishment.closed_at = timezone.now()
        establishment.save(update_fields=["closed_at"])
        record(AuditEvent.Action.ESTABLISHMENT_CLOSED, actor=user, establishment=establishment)


@transaction.atomic
def reopen(user: User, establishment: Establishment) -> None:
    _require(user)
    if establishment.closed_at is not None:
        establishment.closed_at = None
        establishment.save(update_fields=["closed_at"])
        record(
            AuditEvent.Action.ESTABLISHMENT_UPDATED,
            actor=user,
            establishment=establishment,
            reopened=True,
        )
