"""Queries about services and pupils' SSO identities."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from educompte.sso.models import PairwiseSubject, Service


def allowed_scopes(application) -> list[str]:
    """The scopes a service was registered for (none for an Application without one)."""
    service = Service.objects.filter(application=application).only("allowed_scopes").first()
    return service.scopes if service else []


def services() -> QuerySet[Service]:
    return Service.objects.select_related("application").order_by("application__name")


def services_with_home() -> list[Service]:
    """What "Mes services" lists: the services that gave a page to send pupils to."""
    return list(services().exclude(home_url=""))


def service_by_client_id(client_id: str) -> Service | None:
    return services().filter(application__client_id=client_id).first()


def subject_for(user, application) -> str:
    """The pairwise ``sub`` of ``user`` at ``application``, drawn on first use."""
    found = (
        PairwiseSubject.objects.filter(user=user, application=application)
        .values_list("sub", flat=True)
        .first()
    )
    if found:
        return found
    try:
        with transaction.atomic():
            return PairwiseSubject.objects.create(user=user, application=application).sub
    except IntegrityError:  # drawn by a concurrent request
        return PairwiseSubject.objects.get(user=user, application=application).sub
