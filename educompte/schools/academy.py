"""Academy administrators' changes to establishments (services)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.schools.models import Establishment
from educompte.schools.services import add_establishment


def create(user: authz.Principal, uai: str, name: str) -> Establishment:
    """Academy administrators (and the operator) only, checked by ``add_establishment``."""
    return add_establishment(uai, name, actor=user)


@transaction.atomic
def rename(user: authz.Principal, establishment: Establishment, name: str) -> None:
    authz.require_academy_admin(user)
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
def close(user: authz.Principal, establishment: Establishment) -> None:
    """A closed establishment gives nobody any right on it (its data stay for the archive)."""
    authz.require_academy_admin(user)
    if establishment.closed_at is None:
        establishment.closed_at = timezone.now()
        establishment.save(update_fields=["closed_at"])
        record(AuditEvent.Action.ESTABLISHMENT_CLOSED, actor=user, establishment=establishment)
        authz.forget_grants(user)


@transaction.atomic
def reopen(user: authz.Principal, establishment: Establishment) -> None:
    authz.require_academy_admin(user)
    if establishment.closed_at is not None:
        establishment.closed_at = None
        establishment.save(update_fields=["closed_at"])
        record(
            AuditEvent.Action.ESTABLISHMENT_UPDATED,
            actor=user,
            establishment=establishment,
            reopened=True,
        )
        authz.forget_grants(user)
