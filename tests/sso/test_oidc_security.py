"""OpenID Connect provider, attacked (issue 11): the access token in the userinfo query
string, ``prompt=none`` / ``prompt=login`` / ``max_age``, and a replayed authorisation
code. The service side is Authlib's, as in test_views.py."""

from __future__ import annotations

import datetime
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import services as sso_services
from educompte.sso.models import RedeemedCode
from educompte.sso.validators import EducompteValidator
from tests.factories import make_pupil
from tests.helpers import new_client, signed_in
from tests.oidc_helpers import (
    ALL_SCOPES,
    CALLBACK,
    NEW_PASSWORD,
    ORIGIN,
    RelyingParty,
    authorize,
    callback_url,
    sign_in_flow,
)

pytestmark = pytest.mark.django_db

USERINFO = "/oidc/userinfo/"


@pytest.fixture
def registered(db):
    return sso_services.register_service("ENT Collège", [CALLBACK], ALL_SCOPES, by=authz.OPERATOR)


@pytest.fixture
def pupil(college) -> StudentAccount:
    account, _password = make_pupil(college, state=AccountState.ACTIVE)
    return account


def returned(response) -> dict[str, list[str]]:
    """The parameters of a redirect to the service's callback."""
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return parse_qs(urlsplit(location).query)


def assert_error_sent(response, rp: RelyingParty, error: str) -> None:
    params = returned(response)
    assert params["error"] == [error]
    assert params["state"] == [rp.state]
    assert params["iss"] == [ORIGIN]  # RFC 9207, in error responses too
    assert "code" not in params


# --- Userinfo: header or form body, never the query string ------------------------------


def test_userinfo_refuses_an_access_token_in_the_query_string(rp, browser):
    token, _claims = sign_in_flow(browser, rp)
    access = token["access_token"]
    backchannel = new_client(enforce_csrf_checks=True)  # a service, no session
    for method in (backchannel.get, backchannel.post):
        response = method(f"{USERINFO}?access_token={access}")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        challenge = response["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'error="invalid_request"' in challenge
        assert "sub" not in response.json()
    # Not even with a valid header beside it: the token must not travel in the URL.
    response = backchannel.get(
        f"{USERINFO}?access_token={access}", headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 400

    # Control: the header, and a form-encoded POST body (RFC 6750 §2.1, §2.2), work.
    by_header = backchannel.get(USERINFO, headers={"Authorization": f"Bearer {access}"})
    assert by_header.status_code == 200
    by_body = backchannel.post(
        USERINFO,
        f"access_token={access}",
        content_type="application/x-www-form-urlencoded",
    )
    assert by_body.status_code == 200
    assert by_body.json()["sub"] == by_header.json()["sub"]


def test_userinfo_body_token_must_be_form_encoded_and_alone(rp, browser):
    access = sign_in_flow(browser, rp)[0]["access_token"]
    backchannel = new_client(enforce_csrf_checks=True)  # a service, no session
    multipart = backchannel.post(USERINFO, {"access_token": access})  # multipart/form-data
    assert multipart.status_code == 400
    both = backchannel.post(
        USERINFO,
        f"access_token={access}",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"


# --- prompt=none (OIDC Core §3.1.2.6) ------------------------------------------------------


def test_prompt_none_without_a_session_answers_login_required(rp):
    response = authorize(new_client(), rp, prompt="none")
    assert_error_sent(response, rp, "login_required")
    assert not Grant.objects.exists()


def test_prompt_none_never_redirects_to_an_unregistered_address(rp):
    url = rp.authorization_url(prompt="none", redirect_uri="https://evil.example/cb")
    response = new_client().get(url)
    assert response.status_code == 400
    assert "evil.example" not in response.get("Location", "")


def test_prompt_none_while_the_provisional_password_awaits_replacement(rp, college):
    account, provisional = make_pupil(college)
    client = new_client()
    client.get(client.get(rp.authorization_url())["Location"])  # the sign-in page
    response = client.post("/connexion/", {"username": account.identifier, "password": provisional})
    assert response["Location"] == "/connexion/activation/"
    # The service tries silently: the pupil has a password to choose first.
    response = authorize(client, rp, prompt="none")
    assert_error_sent(response, rp, "interaction_required")
    assert not Grant.objects.exists()
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED


@pytest.mark.parametrize(
    ("who", "error"),
    [("deactivated", "interaction_required"), ("agent", "login_required")],
)
def test_prompt_none_with_a_session_that_may_not_use_services(rp, college, quick_head, who, error):
    if who == "agent":
        client = signed_in(quick_head)
    else:
        account, _pw = make_pupil(college, state=AccountState.DEACTIVATED)
        client = signed_in(account.user)
    assert_error_sent(authorize(client, rp, prompt="none"), rp, error)
    assert not Grant.objects.exists()


def test_prompt_none_with_a_good_session_issues_the_code(rp, browser):
    response = authorize(browser, rp, prompt="none")
    params = returned(response)
    assert params["state"] == [rp.state] and "error" not in params
    token = rp.fetch_token(callback_url(response))
    assert rp.verify_id_token(token)["nonce"] == rp.nonce
    assert rp.userinfo(token["access_token"]).status_code == 200


def test_prompt_none_for_an_application_that_needs_consent(browser):
    reg = sso_services.register_service("Hors académie", [CALLBACK], "openid", by=authz.OPERATOR)
    application = reg.service.application
    application.skip_authorization = False
    application.save()
    rp = RelyingParty(application.client_id, reg.client_secret, scope="openid")
    assert_error_sent(authorize(browser, rp, prompt="none"), rp, "consent_required")
    assert not Grant.objects.exists()


def test_prompt_none_with_another_value_is_an_invalid_request(rp, browser):
    response = authorize(browser, rp, prompt="none login")
    assert returned(response)["error"] == ["invalid_request"]
    assert not Grant.objects.exists()


# --- prompt=login, other values, max_age ----------------------------------------------------


def test_prompt_login_asks_a_signed_in_pupil_to_sign_in_again(rp, browser, pupil):
    pupil.user.set_password(NEW_PASSWORD)
    pupil.user.save()
    response = authorize(browser, rp, prompt="login")
    assert response.status_code == 302
    sign_in = urlsplit(response["Location"])
    assert sign_in.path == "/connexion/"
    nxt = parse_qs(sign_in.query)["next"][0]
    assert nxt.startswith("/oidc/authorize/?") and "prompt" not in parse_qs(urlsplit(nxt).query)
    assert not Grant.objects.exists()
    assert browser.get(response["Location"]).status_code == 200
    response = browser.post("/connexion/", {"username": pupil.identifier, "password": NEW_PASSWORD})
    assert response["Location"] == nxt
    token = rp.fetch_token(callback_url(browser.get(nxt)))
    assert rp.userinfo(token["access_token"]).status_code == 200


@pytest.mark.parametrize("prompt", ["consent", "select_account", "inconnu", "create"])
def test_other_prompt_values_never_give_a_server_error(rp, browser, prompt):
    response = authorize(browser, rp, prompt=prompt)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "code" in returned(response)  # consent is pre-configured, one account


@pytest.mark.parametrize("anonymous", [False, True])
def test_max_age_exceeded_asks_to_sign_in_again(rp, browser, pupil, anonymous):
    User.objects.filter(pk=pupil.user_id).update(
        last_login=timezone.now() - datetime.timedelta(hours=2)
    )
    client = new_client() if anonymous else browser
    response = authorize(client, rp, max_age="600")
    sign_in = urlsplit(response["Location"])
    assert sign_in.path == "/connexion/"
    nxt = parse_qs(parse_qs(sign_in.query)["next"][0].split("?", 1)[1])
    assert "max_age" not in nxt and nxt["state"] == [rp.state]
    assert not Grant.objects.exists()
    if not anonymous:
        # Silently: login_required.
        assert_error_sent(
            authorize(browser, rp, max_age="600", prompt="none"), rp, "login_required"
        )
        # Control: a recent enough sign-in gets the code.
        assert "code" in returned(authorize(browser, rp, max_age="86400"))


# --- A replayed authorisation code ends what it issued (RFC 6749 §4.1.2) -----------------------


def test_a_replayed_code_revokes_the_tokens_of_its_first_exchange(rp, browser, caplog):
    location = callback_url(authorize(browser, rp))
    token = rp.fetch_token(location)
    assert rp.userinfo(token["access_token"]).status_code == 200
    # Another sign-in of the same pupil at the same service, from another code.
    other, other_claims = sign_in_flow(browser, rp)
    first_jti = rp.verify_id_token(token)["jti"]

    # The first code, intercepted and replayed.
    with (
        caplog.at_level(logging.WARNING, logger="educompte.sso"),
        pytest.raises(Exception, match="invalid_grant"),
    ):
        rp.fetch_token(location)
    assert "authorisation code replayed" in caplog.text
    assert location not in caplog.text and code_in(location) not in caplog.text

    assert rp.userinfo(token["access_token"]).status_code == 401
    with pytest.raises(Exception, match="invalid_grant"):
        rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])
    assert not IDToken.objects.filter(jti=first_jti).exists()
    # The other code's tokens are untouched.
    assert IDToken.objects.filter(jti=other_claims["jti"]).exists()
    assert rp.userinfo(other["access_token"]).status_code == 200
    refreshed = rp.session.refresh_token(rp.metadata["token_endpoint"], other["refresh_token"])
    assert rp.userinfo(refreshed["access_token"]).status_code == 200


def code_in(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def test_a_replay_after_refreshes_revokes_the_refreshed_tokens_too(rp, browser):
    location = callback_url(authorize(browser, rp))
    token = rp.fetch_token(location)
    endpoint = rp.metadata["token_endpoint"]
    refreshed = rp.session.refresh_token(endpoint, token["refresh_token"])
    refreshed = rp.session.refresh_token(endpoint, refreshed["refresh_token"])
    assert rp.userinfo(refreshed["access_token"]).status_code == 200
    assert IDToken.objects.count() == 3  # the exchange and two refreshes
    assert len(RedeemedCode.objects.get().id_token_jtis) == 3

    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(location)
    assert rp.userinfo(refreshed["access_token"]).status_code == 401
    with pytest.raises(Exception, match="invalid_grant"):
        rp.session.refresh_token(endpoint, refreshed["refresh_token"])
    assert not AccessToken.objects.exists()
    assert not IDToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_code_exchanged_twice_concurrently_loses_both_exchanges(rp, browser, registered):
    """The second exchange passed validation before the first deleted the code: when it
    finds the code gone, the tokens of both go."""
    location = callback_url(authorize(browser, rp))
    code = code_in(location)
    token = rp.fetch_token(location)
    request = OauthlibRequest("https://testserver/oidc/token/")
    request.client = registered.service.application
    with pytest.raises(InvalidGrantError):
        EducompteValidator().invalidate_authorization_code(rp.client_id, code, request)
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_an_unknown_code_revokes_nothing(rp, browser):
    token, _claims = sign_in_flow(browser, rp)
    with pytest.raises(Exception, match="invalid_grant"):
        rp.session.fetch_token(
            rp.metadata["token_endpoint"], code="x" * 30, code_verifier=rp.verifier
        )
    assert rp.userinfo(token["access_token"]).status_code == 200


def test_redeemed_codes_are_forgotten_once_their_tokens_cannot_live(rp, browser):
    sign_in_flow(browser, rp)
    old = RedeemedCode.objects.get()
    assert old.expires > timezone.now() + datetime.timedelta(hours=8)
    RedeemedCode.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    sign_in_flow(browser, rp)
    assert list(RedeemedCode.objects.values_list("pk", flat=True)) != [old.pk]
    assert RedeemedCode.objects.count() == 1
