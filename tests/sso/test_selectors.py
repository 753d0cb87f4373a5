"""educompte.sso.selectors."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import selectors
from educompte.sso import services as sso_services
from tests.factories import DivisionFactory, MefFactory, make_pupil
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


@pytest.fixture
def pupil(college) -> StudentAccount:
    division = DivisionFactory(establishment=college, code="3A")
    mef = MefFactory(code="10310019110", label="3EME")
    account, _password = make_pupil(college, division=division, mef=mef, state=AccountState.ACTIVE)
    return account


def test_selectors_subject_for_is_stable(registered, pupil):
    app = registered.service.application
    assert selectors.subject_for(pupil.user, app) == selectors.subject_for(pupil.user, app)
