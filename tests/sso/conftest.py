"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import services as sso_services
from tests.factories import DivisionFactory, MefFactory, make_pupil
from tests.helpers import signed_in
from tests.oidc_helpers import ALL_SCOPES, CALLBACK, LOGOUT_RETURN, RelyingParty


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


@pytest.fixture
def browser(pupil):
    """The pupil's browser, signed in to Educompte."""
    return signed_in(pupil.user)


@pytest.fixture
def rp(registered) -> RelyingParty:
    return RelyingParty(registered.service.application.client_id, registered.client_secret)
