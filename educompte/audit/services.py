from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from educompte.audit.models import AuditEvent

_FORBIDDEN_KEYS = {"password", "mot_de_passe", "provisional_password", "secret"}


def _guard(details: Mapping[str, Any]) -> None:
    if _FORBIDDEN_KEYS & {k.lower() for k in details}:
        raise ValueError("audit events never carry passwords")


def _event(
    action: str, actor: Any, establishment: Any, account: Any, ip: str | None, details: dict
) -> AuditEvent:
    # The operator (authz.OPERATOR) and other principals without a login are named, not
    # linked.
    return AuditEvent(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "",
        establishment=establishment,
        account=account,
        subject_label=account.user.username if account is not None else "",
        ip_address=ip or None,
        details=details,
    )


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
    _guard(details)
    event = _event(action, actor, establishment, account, ip, details)
    event.save(force_insert=True)
    return event


def record_many(
    action: str,
    events: Iterable[tuple[Any, Mapping[str, Any]]],
    *,
    actor: Any = None,
    establishment: Any = None,
    ip: str | None = None,
) -> list[AuditEvent]:
    """Write one event per ``(account, details)`` pair, in one bulk insert: what
    ``record`` writes for each, with the same refusal of passwords (checked for every
    event before anything is written)."""
    built = []
    for account, details in events:
        _guard(details)
        built.append(_event(action, actor, establishment, account, ip, dict(details)))
    if not built:
        return []
    return AuditEvent.objects.bulk_create(built)
