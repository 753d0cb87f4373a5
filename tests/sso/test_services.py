"""educompte.sso.services: who may change a service."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.sso import services as sso_services
from tests.oidc_helpers import ALL_SCOPES, CALLBACK, LOGOUT_RETURN

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def registered(db):
    return sso_services.register_service(
        "ENT Collège",
        [CALLBACK, "https://ent.example/other"],
        ALL_SCOPES,
        home_url="https://ent.example/",
        post_logout_redirect_uris=[LOGOUT_RETURN],
        by=authz.OPERATOR,
    )


def test_update_service_requires_an_academy_admin(registered, quick_head):
    with pytest.raises(authz.NotAcademyAdmin):
        sso_services.update_service(registered.service, name="X", by=quick_head)
