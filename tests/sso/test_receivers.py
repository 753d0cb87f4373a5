"""educompte.sso.receivers: a change of a pupil's credentials revokes their tokens."""

from __future__ import annotations

import pytest
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from educompte.accounts import authz
from educompte.pupils import services as pupil_services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import services as sso_services
from tests.factories import DivisionFactory, MefFactory, make_head, make_pupil
from tests.helpers import signed_in
from tests.oidc_helpers import (
    ALL_SCOPES,
    CALLBACK,
    LOGOUT_RETURN,
    RelyingParty,
    authorize,
    callback_url,
    sign_in_flow,
)

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
def rp(registered) -> RelyingParty:
    return RelyingParty(registered.service.application.client_id, registered.client_secret)


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


@pytest.mark.parametrize("change", ["reset", "deactivate", "forced_change"])
def test_credentials_changes_revoke_the_pupils_tokens(rp, browser, pupil, college, change):
    token, _claims = sign_in_flow(browser, rp)
    pending = callback_url(authorize(browser, rp))  # a code not yet exchanged
    assert rp.userinfo(token["access_token"]).status_code == 200
    head = make_head(college, username="principal-sso", quick=True)
    if change == "reset":
        pupil_services.reset_password(head, pupil)
    elif change == "deactivate":
        pupil_services.deactivate(head, college, [pupil.pk], reason="départ")
    else:
        pupil_services.force_password_change(head, college, account_ids=[pupil.pk])
    assert rp.userinfo(token["access_token"]).status_code == 401
    assert not AccessToken.objects.filter(user=pupil.user).exists()
    assert not RefreshToken.objects.filter(user=pupil.user).exists()
    assert not IDToken.objects.filter(user=pupil.user).exists()
    assert not Grant.objects.filter(user=pupil.user).exists()
    with pytest.raises(Exception, match="invalid_grant"):
        rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(pending)


def test_other_pupils_tokens_survive_a_reset(rp, browser, pupil, college):
    other, _pw = make_pupil(college, first_name="Hugo", last_name="Berthier")
    other.state = AccountState.ACTIVE
    other.save()
    other_token, _claims = sign_in_flow(signed_in(other.user), rp)
    pupil_services.reset_password(make_head(college, username="chef", quick=True), pupil)
    assert rp.userinfo(other_token["access_token"]).status_code == 200
