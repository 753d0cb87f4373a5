from __future__ import annotations

from typing import Any

from educompte.audit.models import AuditEvent

_FORBIDDEN_KEYS = {"password", "mot_de_passe", "provisional_password", "secret"}


def record(
    action: str,
    *,
    actor: Any = None,
    establishment: Any = None,
    account: Any = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Write one audit event. Refuses anything that looks like a password."""
    if _FORBIDDEN_KEYS & {k.lower() for k in details}:
        raise ValueError("audit events never carry passwords")
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "",
        establishment=establishment,
        account=account,
        subject_label=account.user.username if account is not None else "",
        ip_address=ip or None,
        details=details,
    )
