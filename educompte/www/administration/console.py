"""What every page of Administration des comptes shows: its establishment and tabs."""

from __future__ import annotations

from django.http import HttpRequest

from educompte.accounts import authz
from educompte.schools.models import Establishment


def console_context(request: HttpRequest, establishment: Establishment, tab: str, **extra) -> dict:
    """The context of a page of the console; ``is_head`` shows the "Délégations" tab."""
    return {
        "establishment": establishment,
        "tab": tab,
        "is_head": authz.is_head(request.user, establishment),
        **extra,
    }
