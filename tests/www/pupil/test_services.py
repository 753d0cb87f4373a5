""" "Mes services": the services a pupil may open."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import services as sso_services
from tests.factories import DivisionFactory, MefFactory, make_pupil
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def pupil(college) -> StudentAccount:
    division = DivisionFactory(establishment=college, code="3A")
    mef = MefFactory(code="10310019110", label="3EME")
    account, _password = make_pupil(college, division=division, mef=mef, state=AccountState.ACTIVE)
    return account


@pytest.fixture
def browser(pupil):
    """The pupil's browser, signed in to Educompte."""
    return signed_in(pupil.user)


# --- "Mes services", demo service and the CSP of the sign-in pages ------------------------


def test_my_services_lists_the_services_with_a_home_page(registered, browser):
    sso_services.register_service(
        "Sans accueil", ["https://x.example/cb"], "openid", by=authz.OPERATOR
    )
    body = browser.get("/mes-services/").content.decode()
    assert 'href="https://ent.example/"' in body and "ENT Collège" in body
    assert "Sans accueil" not in body
