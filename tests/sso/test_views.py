"""Single sign-on: Educompte as an OpenID Connect provider.

The service side of every flow is Authlib's (``OAuth2Session``: PKCE, state, nonce, token
request) and the ID token is checked with joserfc — the JOSE library Authlib's own OIDC
client verifies ID tokens with — against the JWKS fetched from the provider, then with
Authlib's ``CodeIDToken`` claims rules. Nothing on the client side comes from DOT. Authlib
speaks HTTP through ``requests``; a transport adapter hands its requests to Django's test
client, so the provider runs in-process on the test database.
"""

from __future__ import annotations

import datetime
import logging
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from educompte.accounts import authz, throttling
from educompte.pupils import services as pupil_services
from educompte.pupils.models import AccountState
from educompte.sso import keys
from educompte.sso import services as sso_services
from educompte.sso.models import PairwiseSubject
from tests.factories import make_head, make_pupil
from tests.helpers import new_client, signed_in
from tests.oidc_helpers import (
    CALLBACK,
    LOGOUT_RETURN,
    NEW_PASSWORD,
    ORIGIN,
    RelyingParty,
    authorize,
    backchannel_session,
    callback_url,
    discovery,
    sign_in_flow,
)

pytestmark = pytest.mark.django_db


def code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


# --- Fixtures ---------------------------------------------------------------------------


# --- Discovery and keys -----------------------------------------------------------------


def test_discovery_publishes_a_code_flow_only_provider_at_the_root():
    metadata = discovery()
    assert metadata["issuer"] == ORIGIN
    assert metadata["authorization_endpoint"] == f"{ORIGIN}/oidc/authorize/"
    assert metadata["token_endpoint"] == f"{ORIGIN}/oidc/token/"
    assert metadata["userinfo_endpoint"] == f"{ORIGIN}/oidc/userinfo/"
    assert metadata["jwks_uri"] == f"{ORIGIN}/.well-known/jwks.json"
    assert metadata["end_session_endpoint"] == f"{ORIGIN}/oidc/logout/"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(metadata["scopes_supported"]) == {"openid", "profile", "educompte", "email"}
    assert {"sub", "given_name", "educompte_uai", "email"} <= set(metadata["claims_supported"])
    jwks = backchannel_session().get(metadata["jwks_uri"], withhold_token=True).json()
    assert [k["kid"] for k in jwks["keys"]] == [
        keys.kid(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
    ]
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in jwks["keys"])


# --- The whole flow -------------------------------------------------------------------------


def test_whole_flow_with_authlib_pkce_and_a_verified_id_token(rp, registered, browser, pupil):
    url = rp.authorization_url()
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    response = browser.get(url)
    location = callback_url(response)
    returned = parse_qs(urlsplit(location).query)
    assert returned["state"] == [rp.state]
    assert returned["iss"] == [ORIGIN]  # RFC 9207
    grant = Grant.objects.get()
    assert grant.code_challenge_method == "S256"
    assert (grant.expires - timezone.now()).total_seconds() <= 600

    token = rp.fetch_token(location)
    assert token["token_type"].lower() == "bearer"
    id_claims = rp.verify_id_token(token)
    assert id_claims["aud"] == rp.client_id
    assert id_claims["nonce"] == rp.nonce
    assert id_claims["iss"] == ORIGIN
    now = time.time()
    assert now < id_claims["exp"] <= now + settings.OIDC_ID_TOKEN_SECONDS + 5
    assert id_claims["sub"] != str(pupil.user_id)
    assert id_claims["sub"] == PairwiseSubject.objects.get(user=pupil.user).sub

    # A token signed by anybody else does not verify against the JWKS.
    head, payload, signature = token["id_token"].split(".")
    forged = ".".join(
        [head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, KeySet.import_key_set(rp.jwks()), ["RS256"])
    # Nor does one meant for another service, or for another nonce.
    for params in ({"client_id": "un-autre-service"}, {"nonce": "autre"}):
        decoded = jwt.decode(token["id_token"], KeySet.import_key_set(rp.jwks()), ["RS256"])
        other = {"nonce": rp.nonce, "client_id": rp.client_id, **params}
        with pytest.raises(Exception, match="(aud|azp|nonce)"):
            CodeIDToken(decoded.claims, decoded.header, None, other).validate()

    userinfo = rp.userinfo(token["access_token"])
    assert userinfo.status_code == 200
    info = userinfo.json()
    assert info["sub"] == id_claims["sub"]
    assert info["given_name"] == "Zoé"
    assert info["educompte_uai"] == "0380001V"

    # The refresh token works, once (rotation), and gives a fresh access token.
    refreshed = rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200


# --- Rejections -------------------------------------------------------------------------


def test_a_redirect_uri_differing_by_one_character_is_refused(rp, browser, pupil):
    for wrong in (
        CALLBACK + "/",
        CALLBACK[:-1],
        CALLBACK.replace("https://ent.", "https://ent2."),
        CALLBACK + "?x=1",
        CALLBACK.replace("ent.example", "ent.example:444"),
    ):
        url = rp.authorization_url(redirect_uri=wrong)
        for who in (browser, new_client()):  # signed in, and anonymous
            response = who.get(url)
            assert response.status_code == 400, wrong
            assert "adresse de retour" in response.content.decode()
            assert not Grant.objects.exists()
    # At the token endpoint too: the code is bound to the exact URI it was issued for.
    location = callback_url(authorize(browser, rp))
    with pytest.raises(Exception, match="invalid_request|invalid_grant|access_denied"):
        rp.session.fetch_token(
            rp.metadata["token_endpoint"],
            code=code_of(location),
            code_verifier=rp.verifier,
            redirect_uri="https://ent.example/other",
        )


def test_loopback_redirect_uris_are_matched_exactly_too(browser):
    reg = sso_services.register_service(
        "Local", ["http://127.0.0.1:8000/cb"], "openid", by=authz.OPERATOR
    )
    rp = RelyingParty(
        reg.service.application.client_id,
        reg.client_secret,
        scope="openid",
        redirect="http://127.0.0.1:8001/cb",
    )
    assert authorize(browser, rp).status_code == 400  # RFC 8252's port leeway is off


def test_pkce_is_required(rp, browser):
    # No challenge in the authorisation request.
    url = rp.authorization_url()
    query = parse_qs(urlsplit(url).query)
    query.pop("code_challenge")
    query.pop("code_challenge_method")
    response = browser.get("/oidc/authorize/?" + urlencode(query, doseq=True))
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]
    assert not Grant.objects.exists()
    # "plain" is refused.
    query["code_challenge"] = [rp.verifier]
    query["code_challenge_method"] = ["plain"]
    response = browser.get("/oidc/authorize/?" + urlencode(query, doseq=True))
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]
    assert not Grant.objects.exists()
    # No verifier (or a wrong one) in the token request.
    location = callback_url(authorize(browser, rp))
    endpoint = rp.metadata["token_endpoint"]
    for verifier in (None, generate_token(48)):
        kwargs = {"code_verifier": verifier} if verifier else {}
        plain = backchannel_session(
            client_id=rp.client_id, client_secret=rp.session.client_secret, redirect_uri=CALLBACK
        )
        with pytest.raises(Exception, match="invalid_request|invalid_grant"):
            plain.fetch_token(endpoint, code=code_of(location), **kwargs)
    assert not AccessToken.objects.exists()


def test_a_code_is_used_once(rp, browser):
    location = callback_url(authorize(browser, rp))
    rp.fetch_token(location)
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(location)
    # The replay also ended what the first exchange issued (test_oidc_security.py).
    assert AccessToken.objects.count() == 0


def test_an_expired_code_is_refused(rp, browser):
    assert settings.OAUTH2_PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"] <= 600
    location = callback_url(authorize(browser, rp))
    Grant.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(location)


def test_implicit_and_hybrid_requests_are_refused(rp, browser):
    for response_type in ("token", "id_token", "id_token token", "code id_token"):
        response = authorize(browser, rp, response_type=response_type)
        assert response.status_code in (302, 400)
        location = response.get("Location", "")
        assert "access_token" not in location and "id_token=" not in location
        if location:
            assert "error=" in location
    assert not AccessToken.objects.exists() and not IDToken.objects.exists()


def test_password_and_client_credentials_grants_are_refused(rp, pupil):
    pupil.user.set_password(NEW_PASSWORD)
    pupil.user.save()
    for data in (
        {"grant_type": "password", "username": pupil.identifier, "password": NEW_PASSWORD},
        {"grant_type": "client_credentials"},
    ):
        response = rp.session.post(
            rp.metadata["token_endpoint"],
            data=data,
            withhold_token=True,
            auth=(rp.client_id, rp.session.client_secret),
        )
        assert response.status_code in (400, 401), data
        assert "access_token" not in response.json()
    assert not AccessToken.objects.exists()


def test_a_scope_the_service_was_not_registered_for_is_refused(browser):
    reg = sso_services.register_service("Cantine", [CALLBACK], "openid profile", by=authz.OPERATOR)
    rp = RelyingParty(
        reg.service.application.client_id, reg.client_secret, scope="openid profile educompte"
    )
    response = authorize(browser, rp)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_scope"]
    assert not Grant.objects.exists()


def test_a_wrong_client_secret_is_refused(rp, browser):
    location = callback_url(authorize(browser, rp))
    rp.session.client_secret = "x" * 128
    with pytest.raises(Exception, match="invalid_client"):
        rp.fetch_token(location)


def test_the_token_endpoint_answers_nothing_to_a_browser_cookie(rp, browser, pupil):
    """CSRF-exempt endpoints give no ambient authority: cookies count for nothing."""
    response = browser.post("/oidc/token/", {"grant_type": "authorization_code", "code": "x"})
    assert response.status_code in (400, 401)
    assert browser.get("/oidc/userinfo/").status_code == 401


# --- Who may sign in: the seed's rule inside SSO ------------------------------------------


def test_provisional_password_pupil_activates_mid_flow_then_reaches_the_service(rp, college):
    account, provisional = make_pupil(college)
    browser = new_client()
    authorize_url = rp.authorization_url()
    response = browser.get(authorize_url)
    assert response.status_code == 302
    sign_in = urlsplit(response["Location"])
    assert sign_in.path == "/connexion/"
    nxt = parse_qs(sign_in.query)["next"][0]
    assert nxt.startswith("/oidc/authorize/?")
    assert browser.get(response["Location"]).status_code == 200
    response = browser.post(
        "/connexion/", {"username": account.identifier, "password": provisional}
    )
    assert response.status_code == 302 and response["Location"] == "/connexion/activation/"
    response = browser.post(
        "/connexion/activation/",
        {
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "birth_date": "14/03/2011",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == nxt  # back to the authorisation request
    response = browser.get(response["Location"])
    token = rp.fetch_token(callback_url(response))
    id_claims = rp.verify_id_token(token)
    assert id_claims["given_name"] == "Zoé"
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE
    # Educompte's "account activated" notice went with the pupil, not onto a later page.
    assert "Votre compte est activé" not in browser.get("/mes-services/").content.decode()


def test_an_invalid_request_is_reported_before_asking_anybody_to_sign_in(rp):
    response = new_client().get(rp.authorization_url().replace(rp.client_id, "inconnu"))
    assert response.status_code == 400
    assert "pas enregistré" in response.content.decode()


def test_a_signed_in_agent_gets_a_clear_page(rp, quick_head):
    response = signed_in(quick_head).get(rp.authorization_url())
    assert response.status_code == 403
    body = response.content.decode()
    assert "réservée aux élèves" in body
    assert not Grant.objects.exists()


def test_a_deactivated_pupil_gets_a_clear_page(rp, college):
    account, _password = make_pupil(college, state=AccountState.DEACTIVATED)
    response = signed_in(account.user).get(rp.authorization_url())
    assert response.status_code == 403
    assert "Compte désactivé" in response.content.decode()
    assert not Grant.objects.exists()


@pytest.mark.parametrize("situation", ["deactivated", "blocked"])
def test_a_deactivated_or_blocked_pupil_signing_in_from_a_service_is_stopped(
    rp, college, situation
):
    """Through the sign-in page, with the service's request kept: a clear message, never
    a code for the service."""
    account, provisional = make_pupil(college)
    if situation == "deactivated":
        pupil_services.deactivate(
            make_head(college, username="chef", quick=True), college, [account.pk], reason="départ"
        )
        expected = "désactivé"
    else:
        # Blocked: the daily ceiling of failed sign-ins reached, from another address.
        for _attempt in range(settings.EDUCOMPTE_SIGNIN_DAILY_CEILING):
            throttling.record_failure(account.user_id, "198.51.100.7")
        expected = "Trop d&#x27;essais infructueux"
    browser = new_client()
    login_page = browser.get(rp.authorization_url())["Location"]
    assert browser.get(login_page).status_code == 200
    response = browser.post(
        "/connexion/", {"username": account.identifier, "password": provisional}
    )
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not Grant.objects.exists()


# --- RP-initiated logout ------------------------------------------------------------------


def test_rp_initiated_logout_confirms_on_get_and_acts_on_post(rp, browser, pupil):
    token, _claims = sign_in_flow(browser, rp)
    query = urlencode(
        {
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": LOGOUT_RETURN,
            "state": "s1",
        }
    )
    page = browser.get(f"/oidc/logout/?{query}")
    assert page.status_code == 200
    assert "Se déconnecter" in page.content.decode()
    assert "form-action 'self' https://ent.example" in page["Content-Security-Policy"]
    assert browser.get("/mes-services/").status_code == 200  # GET changed nothing
    assert rp.userinfo(token["access_token"]).status_code == 200
    form = page.context["form"].initial
    response = browser.post("/oidc/logout/", {k: v for k, v in form.items() if v} | {"allow": "on"})
    assert response.status_code == 302
    assert response["Location"] == f"{LOGOUT_RETURN}?state=s1"
    assert browser.get("/mes-services/").status_code == 302  # signed out
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_rp_initiated_logout_refuses_an_unregistered_return_address(rp, browser):
    token, _claims = sign_in_flow(browser, rp)
    query = urlencode(
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGOUT_RETURN + "x"}
    )
    response = browser.get(f"/oidc/logout/?{query}")
    assert response.status_code == 400
    assert "pas enregistrée" in response.content.decode()
    unknown = browser.get("/oidc/logout/?client_id=inconnu")
    assert unknown.status_code == 400


def test_sign_in_pages_let_the_form_end_at_the_requesting_service(rp, college):
    _account, _password = make_pupil(college)
    browser = new_client()
    assert "form-action 'self';" in browser.get("/connexion/")["Content-Security-Policy"] + ";"
    login_url = browser.get(rp.authorization_url())["Location"]
    csp = browser.get(login_url)["Content-Security-Policy"]
    assert "form-action 'self' https://ent.example" in csp
    # A redirect URI that is not registered opens nothing.
    other = new_client()
    url = rp.authorization_url(redirect_uri="https://evil.example/cb")
    next_url = "/oidc/authorize/?" + urlsplit(url).query
    csp = other.get("/connexion/?" + urlencode({"next": next_url}))["Content-Security-Policy"]
    assert "evil.example" not in csp


def test_no_code_token_or_secret_reaches_the_logs(rp, registered, browser, caplog):
    caplog.set_level(logging.DEBUG, logger="educompte")
    location = callback_url(authorize(browser, rp))
    token = rp.fetch_token(location)
    rp.userinfo(token["access_token"])
    secrets = [
        code_of(location),
        token["access_token"],
        token["refresh_token"],
        token["id_token"],
        rp.verifier,
        registered.client_secret,
    ]
    for secret in secrets:
        assert secret not in caplog.text
    # Tokens are stored hashed (RFC 9700): no usable value at rest.
    assert not AccessToken.objects.filter(token=token["access_token"]).exists()
    assert not RefreshToken.objects.filter(token=token["refresh_token"]).exists()
