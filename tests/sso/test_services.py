"""educompte.sso.services: who may change a service."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.sso import services as sso_services

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


def test_update_service_requires_an_academy_admin(registered, quick_head):
    with pytest.raises(authz.NotAcademyAdmin):
        sso_services.update_service(registered.service, name="X", by=quick_head)
