"""educompte.sso.receivers: a change of a pupil's credentials revokes their tokens."""

from __future__ import annotations

import pytest
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from educompte.pupils import services as pupil_services
from educompte.pupils.models import AccountState
from tests.factories import make_head, make_pupil
from tests.helpers import signed_in
from tests.oidc_helpers import authorize, callback_url, sign_in_flow

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


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
