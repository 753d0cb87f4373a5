from __future__ import annotations

from django.db import transaction

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.schools.models import Establishment, Mef
from educompte.schools.uai import normalize_uai, validate_uai


@transaction.atomic
def add_establishment(uai: str, name: str, *, actor: authz.Principal) -> Establishment:
    """Create an establishment; raises ValidationError on a bad UAI, ValueError if it exists.
    Academy administrators (and the operator) only."""
    authz.require_academy_admin(actor)
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


@transaction.atomic
def set_mef_labels(labels: dict[str, str], *, by: authz.Principal) -> tuple[int, int]:
    """The academy's nomenclature: set the label of each MEF code (created if unknown).
    Imports of establishments never rename a MEF, shared by all; this does: academy
    administrators (and the operator) only. Returns (labels changed, MEFs created)."""
    authz.require_academy_admin(by)
    changed = created = 0
    existing = {m.code: m for m in Mef.objects.filter(code__in=list(labels))}
    for code, label in labels.items():
        label = label.strip()[:100]
        if not code or not label:
            continue
        mef = existing.get(code[:11])
        if mef is None:
            Mef.objects.create(code=code[:11], label=label)
            created += 1
        elif mef.label != label:
            mef.label = label
            mef.save(update_fields=["label"])
            changed += 1
    return changed, created
