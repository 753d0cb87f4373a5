"""Queries about agents and their rights, scoped through the authorisation function."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Delegation, StaffAlert, User
from educompte.schools.models import Establishment


def delegations_of(user: User, establishment: Establishment) -> QuerySet[Delegation]:
    """Every delegation of the establishment, live ones first, then the history."""
    authz.authorize(user, authz.MANAGE_DELEGATIONS, establishment)
    return (
        Delegation.objects.filter(establishment=establishment)
        .select_related("agent", "granted_by", "revoked_by")
        .order_by("revoked_at", "-end", "agent__username")
    )


def is_live(delegation: Delegation) -> bool:
    today = timezone.localdate()
    return delegation.revoked_at is None and delegation.start <= today <= delegation.end


def alerts_for(user: User) -> list[StaffAlert]:
    """Open alerts of every establishment the user heads (shown on the portal)."""
    est_ids = [
        est_id
        for est_id, rights in authz.grants(user).items()
        if authz.MANAGE_DELEGATIONS in rights
    ]
    return list(
        StaffAlert.objects.filter(establishment_id__in=est_ids, dismissed_at__isnull=True)
        .select_related("establishment", "agent")
        .order_by("-created_at")[:20]
    )


def live_rights_of(agents: list[User], establishment: Establishment) -> dict[int, list[str]]:
    """The rights each agent holds by a live delegation in the establishment (labels)."""
    today = timezone.localdate()
    rights: dict[int, list[str]] = {}
    for delegation in Delegation.objects.filter(
        establishment=establishment,
        agent__in=agents,
        revoked_at__isnull=True,
        start__lte=today,
        end__gte=today,
    ).order_by("right"):
        rights.setdefault(delegation.agent_id, []).append(
            f"{delegation.get_right_display()} ({delegation.end:%d/%m/%Y})"
        )
    return rights
