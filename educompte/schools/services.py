from __future__ import annotations

from django.db import transaction

from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.schools.models import Establishment
from educompte.schools.uai import normalize_uai, validate_uai


@transaction.atomic
def add_establishment(uai: str, name: str, *, actor: object = None) -> Establishment:
    """Create an establishment; raises ValidationError on a bad UAI, ValueError if it exists."""
    uai = normalize_uai(uai)
    validate_uai(uai)
    name = name.strip()
    if not name:
        raise ValueError("the establishment needs a name")
    if Establishment.objects.filter(uai=uai).exists():
        raise ValueError(f"establishment {uai} already exists")
    establishment = Establishment.objects.create(uai=uai, name=name)
    record(AuditEvent.Action.ESTABLISHMENT_CREATED, actor=actor, establishment=establishment)
    return establishment


def get_by_uai(uai: str) -> Establishment:
    """Raises Establishment.DoesNotExist with the normalised UAI."""
    return Establishment.objects.get(uai=normalize_uai(uai))
