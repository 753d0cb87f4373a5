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
import os
import stat
import time
from io import StringIO
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from educompte.accounts import authz, throttling
from educompte.pupils import services as pupil_services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso import claims, keys, selectors
from educompte.sso import services as sso_services
from educompte.sso.models import PairwiseSubject, Service
from tests.factories import DivisionFactory, MefFactory, make_head, make_pupil
from tests.helpers import new_client, signed_in

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"
CALLBACK = "https://ent.example/callback"
LOGOUT_RETURN = "https://ent.example/au-revoir"
ALL_SCOPES = "openid profile educompte email"
NEW_PASSWORD = "quatre chevaux bleus sous la pluie"


# --- Authlib over Django's test client --------------------------------------------------


class DjangoTestAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport that hands each request to a Django test client."""

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("content-type", "content-length", "host")
        }
        body = request.body or b""
        reply = self.client.generic(
            request.method,
            path,
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", ""),
            headers=headers,
        )
        response = requests.Response()
        response.status_code = reply.status_code
        response.headers.update(dict(reply.items()))
        response._content = reply.content
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def backchannel_session(**kwargs) -> OAuth2Session:
    """Authlib's session, reaching the provider without any browser cookie."""
    session = OAuth2Session(**kwargs)
    session.mount(f"{ORIGIN}/", DjangoTestAdapter(new_client()))
    return session


def discovery() -> dict:
    session = backchannel_session()
    return session.get(f"{ORIGIN}/.well-known/openid-configuration", withhold_token=True).json()


class RelyingParty:
    """A service, as Authlib's client sees it."""

    def __init__(self, client_id: str, secret: str, scope: str = ALL_SCOPES, redirect=CALLBACK):
        self.client_id = client_id
        self.metadata = discovery()
        self.session = backchannel_session(
            client_id=client_id,
            client_secret=secret,
            scope=scope,
            redirect_uri=redirect,
            code_challenge_method="S256",
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)
        self.state = None

    def authorization_url(self, **extra) -> str:
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **extra,
        )
        return url

    def fetch_token(self, callback_url: str, **extra) -> dict:
        return self.session.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=callback_url,
            code_verifier=self.verifier,
            **extra,
        )

    def jwks(self) -> dict:
        return self.session.get(self.metadata["jwks_uri"], withhold_token=True).json()

    def verify_id_token(self, token: dict) -> CodeIDToken:
        """Signature against the published JWKS; iss, aud, nonce, exp, iat, at_hash."""
        decoded = jwt.decode(token["id_token"], KeySet.import_key_set(self.jwks()), ["RS256"])
        assert decoded.header["alg"] == "RS256"
        id_claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"essential": True, "values": [self.metadata["issuer"]]}},
            {
                "nonce": self.nonce,
                "client_id": self.client_id,
                "access_token": token["access_token"],
            },
        )
        id_claims.validate(leeway=0)
        return id_claims

    def userinfo(self, access_token: str):
        return self.session.get(
            self.metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            withhold_token=True,
        )


def code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def authorize(browser, rp: RelyingParty, **extra):
    return browser.get(rp.authorization_url(**extra))


def callback_url(response) -> str:
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return location


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


def sign_in_flow(browser, rp: RelyingParty) -> tuple[dict, CodeIDToken]:
    token = rp.fetch_token(callback_url(authorize(browser, rp)))
    return token, rp.verify_id_token(token)


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


def test_the_signing_key_is_generated_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    first = keys.load(tmp_path, retention=60)
    assert "PRIVATE KEY" in first.current and not first.inactive
    assert stat.S_IMODE(os.stat(tmp_path / keys.CURRENT_FILE).st_mode) == 0o600
    assert keys.load(tmp_path, retention=60).current == first.current  # kept
    monkeypatch.setenv(keys.ENV_KEY, keys.generate_pem())
    from_env = keys.load(tmp_path, retention=60)
    assert from_env.from_environment and from_env.current != first.current
    with pytest.raises(keys.KeysFromEnvironment):
        keys.rotate(tmp_path, retention=60)


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


def test_pairwise_sub_is_stable_per_service_and_differs_between_services(browser, pupil):
    first = sso_services.register_service("ENT", [CALLBACK], ALL_SCOPES, by=authz.OPERATOR)
    second = sso_services.register_service("Vie scolaire", [CALLBACK], "openid", by=authz.OPERATOR)
    subs = []
    for reg, scope in ((first, ALL_SCOPES), (second, "openid"), (first, ALL_SCOPES)):
        rp = RelyingParty(reg.service.application.client_id, reg.client_secret, scope=scope)
        _token, id_claims = sign_in_flow(browser, rp)
        subs.append(id_claims["sub"])
    assert subs[0] == subs[2]
    assert subs[0] != subs[1]
    assert str(pupil.user_id) not in subs and pupil.identifier not in subs


# --- Claims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "given_name", "family_name"}),
        (
            "openid educompte",
            {"sub", "educompte_profile", "educompte_uai", "educompte_class", "educompte_mef"},
        ),
        ("openid email", {"sub"}),  # the address is not confirmed yet
    ],
)
def test_claims_follow_the_scopes(registered, browser, pupil, scope, expected):
    pupil.email = "zoe@example.org"
    pupil.save()
    rp = RelyingParty(
        registered.service.application.client_id, registered.client_secret, scope=scope
    )
    token, id_claims = sign_in_flow(browser, rp)
    info = rp.userinfo(token["access_token"]).json()
    assert set(info) == expected
    assert expected <= set(id_claims)
    assert not ({"email", "email_verified", "given_name", "educompte_uai"} - expected) & set(
        id_claims
    )
    if "educompte_uai" in expected:
        assert info["educompte_profile"] == "eleve2d"
        assert info["educompte_uai"] == "0380001V"
        assert info["educompte_class"] == "3A"
        assert info["educompte_mef"] == "3EME"
    if "given_name" in expected:
        assert (info["given_name"], info["family_name"]) == ("Zoé", "N'Guyen-Lefèvre")


def test_email_only_once_confirmed(rp, browser, pupil):
    pupil.email, pupil.email_confirmed = "zoe@example.org", True
    pupil.save()
    token, id_claims = sign_in_flow(browser, rp)
    assert id_claims["email"] == "zoe@example.org" and id_claims["email_verified"] is True
    assert rp.userinfo(token["access_token"]).json()["email"] == "zoe@example.org"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("3EME", "eleve2d"),
        ("2NDE GENERALE ET TECHNO", "eleve2d"),
        ("CM2", "eleve1d"),
        ("CP", "eleve1d"),
        ("ce1-a", "eleve1d"),
        ("", "eleve2d"),
        (None, "eleve2d"),
        ("CPGE", "eleve2d"),
    ],
)
def test_profile_type_rule(label, kind):
    assert claims.profile_type(label) == kind


def test_a_service_gets_no_more_than_its_registration_even_with_an_old_token(
    rp, registered, browser
):
    token, _claims = sign_in_flow(browser, rp)
    assert "given_name" in rp.userinfo(token["access_token"]).json()
    sso_services.update_service(registered.service, scopes="openid", by=authz.OPERATOR)
    # Narrowing the scopes ended the service's tokens.
    assert rp.userinfo(token["access_token"]).status_code == 401
    token, id_claims = sign_in_flow(
        browser,
        RelyingParty(rp.client_id, registered.client_secret, scope="openid"),
    )
    assert set(id_claims) & {"given_name", "educompte_uai"} == set()


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


# --- Key rotation -----------------------------------------------------------------------


def test_rotation_keeps_the_old_public_key_until_its_tokens_expire(
    rp, registered, browser, tmp_path, monkeypatch
):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    retention = settings.OIDC_RETIRED_KEY_SECONDS
    before = keys.load(tmp_path, retention)
    provider = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": before.current}
    with override_settings(OAUTH2_PROVIDER=provider):
        old_token, _claims = sign_in_flow(browser, rp)
    rotated_at = time.time()
    rotation = keys.rotate(tmp_path, retention, now=rotated_at)
    after = keys.load(tmp_path, retention, now=rotated_at + 60)
    assert rotation.retired_kid == keys.kid(before.current) and after.inactive == [before.current]
    assert stat.S_IMODE(os.stat(tmp_path / keys.CURRENT_FILE).st_mode) == 0o600
    provider = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": after.current,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": after.inactive,
    }
    with override_settings(OAUTH2_PROVIDER=provider):
        kids = [k["kid"] for k in rp.jwks()["keys"]]
        assert kids == [rotation.new_kid, rotation.retired_kid]
        rp.verify_id_token(old_token)  # signed before the rotation, still verifies
        rp.nonce = generate_token(20)
        new_token, _claims = sign_in_flow(browser, rp)
        header = jwt.decode(new_token["id_token"], KeySet.import_key_set(rp.jwks())).header
        assert header["kid"] == rotation.new_kid
        # RP-initiated logout still recognises an ID token of the retired key.
        query = urlencode({"id_token_hint": old_token["id_token"], "client_id": rp.client_id})
        assert browser.get(f"/oidc/logout/?{query}").status_code == 200
    # Once the old tokens have expired, the retired key is no longer published, and the
    # next rotation deletes it.
    later = rotated_at + retention + 1
    assert keys.load(tmp_path, retention, now=later).inactive == []
    assert keys.rotate(tmp_path, retention, now=later).deleted == 1


def test_the_rotate_command_refuses_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv(keys.ENV_KEY, keys.generate_pem())
    with pytest.raises(CommandError, match=keys.ENV_INACTIVE):
        call_command("rotate_oidc_key")


def test_the_rotate_command(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    keys.load(tmp_path, 60)
    out = StringIO()
    with override_settings(VAR_DIR=tmp_path):
        call_command("rotate_oidc_key", stdout=out)
    assert "new signing key" in out.getvalue() and "Restart" in out.getvalue()
    assert len(list((tmp_path / keys.RETIRED_DIR).glob("*.pem"))) == 1


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


# --- Registering services: command line ---------------------------------------------------


def test_add_service_prints_the_client_id_and_the_secret_once():
    out = StringIO()
    call_command(
        "add_service",
        "Pronote démo",
        "--redirect-uri",
        "https://pronote.example/oidc/cb",
        "--scope",
        "profile",
        "--scope",
        "educompte",
        stdout=out,
    )
    service = Service.objects.get()
    text = out.getvalue()
    client_id = service.application.client_id
    secret = text.split("client secret:")[1].split()[0]
    assert f"client id:     {client_id}" in text
    assert len(secret) >= 40
    assert service.application.client_secret != secret  # only a hash is kept
    assert check_password(secret, service.application.client_secret)
    assert service.scopes == ["openid", "profile", "educompte"]
    assert service.redirect_uris == ["https://pronote.example/oidc/cb"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("pronote.example/cb", "adresse web complète"),
        ("http://pronote.example/cb", "https://"),
        ("https://pronote.example/cb#frag", "fragment"),
        ("https://user@pronote.example/cb", "identifiants"),
        ("https://*.example/cb", "jokers"),
    ],
)
def test_add_service_explains_a_bad_redirect_uri(uri, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("add_service", "Pronote", "--redirect-uri", uri, stdout=StringIO())
    assert "redirect uris" in str(error.value)
    assert not Service.objects.exists()


def test_add_service_refuses_an_unknown_scope_and_a_duplicate_name(registered):
    with pytest.raises(CommandError):
        call_command("add_service", "X", "--redirect-uri", CALLBACK, "--scope", "phone")
    with pytest.raises(CommandError, match="déjà ce nom"):
        call_command("add_service", "ent collège", "--redirect-uri", CALLBACK, stdout=StringIO())


# --- Registering services: Administration académique --------------------------------------


@pytest.fixture
def academy(verified_client_for, academy_admin):
    return verified_client_for(academy_admin)


def test_academy_registers_a_service_and_sees_its_secret_once(academy, academy_admin):
    response = academy.post(
        reverse("academy:services"),
        {
            "name": "ENT Lycée",
            "redirect_uris": "https://ent-lycee.example/cb\r\nhttps://ent-lycee.example/cb2",
            "scopes": ["profile", "educompte"],
            "home_url": "https://ent-lycee.example/",
            "post_logout_redirect_uris": "",
        },
    )
    assert response.status_code == 200
    service = Service.objects.get()
    secret = response.context["secret"]
    body = response.content.decode()
    assert secret in body and service.application.client_id in body
    assert check_password(secret, service.application.client_secret)
    assert service.registered_by == academy_admin
    assert service.scopes == ["openid", "profile", "educompte"]
    assert service.redirect_uris == [
        "https://ent-lycee.example/cb",
        "https://ent-lycee.example/cb2",
    ]
    page = academy.get(reverse("academy:service", args=[service.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()
    listing = academy.get(reverse("academy:services")).content.decode()
    assert "ENT Lycée" in listing and secret not in listing


def test_academy_form_errors_are_explained(academy):
    response = academy.post(
        reverse("academy:services"),
        {"name": "ENT", "redirect_uris": "http://ent.example/cb", "scopes": ["openid"]},
    )
    assert response.status_code == 400
    assert "https://" in response.content.decode()
    assert not Service.objects.exists()


def test_academy_edits_renews_the_secret_and_revokes(academy, rp, registered, browser):
    service = registered.service
    url = reverse("academy:service", args=[service.pk])
    token, _claims = sign_in_flow(browser, rp)
    response = academy.post(
        url,
        {
            "what": "update",
            "name": "ENT Collège Jean Moulin",
            "redirect_uris": CALLBACK + "\nhttps://ent.example/v2/cb",
            "scopes": ["profile", "educompte", "email"],
            "home_url": "https://ent.example/",
            "post_logout_redirect_uris": LOGOUT_RETURN,
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    service.application.refresh_from_db()
    assert service.name == "ENT Collège Jean Moulin"
    assert service.redirect_uris == [CALLBACK, "https://ent.example/v2/cb"]
    assert rp.userinfo(token["access_token"]).status_code == 200  # nothing narrowed

    response = academy.post(url, {"what": "new_secret"})
    assert response.status_code == 200
    new_secret = response.context["secret"]
    assert new_secret != registered.client_secret
    location = callback_url(authorize(browser, rp))
    with pytest.raises(Exception, match="invalid_client"):
        rp.fetch_token(location)  # the old secret no longer works

    assert academy.post(url, {"what": "revoke"}).status_code == 302  # not confirmed
    assert Service.objects.filter(pk=service.pk).exists()
    response = academy.post(url, {"what": "revoke", "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("academy:services")
    assert not Service.objects.exists() and not AccessToken.objects.exists()
    assert authorize(browser, rp).status_code == 400


def test_academy_service_pages_are_for_verified_academy_admins_only(
    registered, quick_head, client_for, academy_admin
):
    url = reverse("academy:service", args=[registered.service.pk])
    assert client_for(quick_head).get(url).status_code == 403
    assert client_for(academy_admin).get(url).status_code == 302  # second factor first
    assert new_client().get(url).status_code == 302


def test_update_service_requires_an_academy_admin(registered, quick_head):
    with pytest.raises(authz.NotAcademyAdmin):
        sso_services.update_service(registered.service, name="X", by=quick_head)


# --- "Mes services", demo service and the CSP of the sign-in pages ------------------------


def test_my_services_lists_the_services_with_a_home_page(registered, browser):
    sso_services.register_service(
        "Sans accueil", ["https://x.example/cb"], "openid", by=authz.OPERATOR
    )
    body = browser.get("/mes-services/").content.decode()
    assert 'href="https://ent.example/"' in body and "ENT Collège" in body
    assert "Sans accueil" not in body


def test_ensure_demo_service_is_idempotent():
    from educompte.demo.services import ensure_demo_service
    from educompte.sso import demo_client

    first = ensure_demo_service()
    again = ensure_demo_service(["http://127.0.0.1:8010"])
    assert first.pk == again.pk and Service.objects.count() == 1
    again.refresh_from_db()
    again.application.refresh_from_db()
    assert again.application.client_id == "ent-demo"
    assert again.redirect_uris == [
        "http://127.0.0.1:8000/demo-service/callback/",
        "http://localhost:8000/demo-service/callback/",
        "http://127.0.0.1:8010/demo-service/callback/",
    ]
    assert "http://127.0.0.1:8010/demo-service/" in again.post_logout_redirect_uris
    assert check_password(demo_client.client_secret(), again.application.client_secret)
    assert ensure_demo_service().redirect_uris == again.redirect_uris


def test_the_demo_command_registers_and_prints_the_demo_service(monkeypatch):
    from educompte.demo import services as demo_services
    from educompte.demo.management.commands import demo as demo_command

    summary = demo_services.DemoSummary(False, "nzoe1", "ABCDEFGHJK")
    monkeypatch.setattr(demo_command, "load_demo", lambda stdout=None: summary)
    out = StringIO()
    call_command("demo", "--service-origin", "http://127.0.0.1:8010/", stdout=out)
    text = out.getvalue()
    assert "ENT démo" in text and "client id ent-demo" in text
    for origin in ("http://127.0.0.1:8000", "http://localhost:8000", "http://127.0.0.1:8010"):
        assert f"  {origin}/demo-service/\n" in text
    with pytest.raises(CommandError, match="service-origin refused"):
        call_command("demo", "--service-origin", "http://ent.example", stdout=StringIO())


def test_the_demo_service_explains_an_unregistered_origin():
    from educompte.demo.services import ensure_demo_service

    client = new_client()
    assert "educompte demo" in client.get("/demo-service/").content.decode()
    ensure_demo_service()
    body = client.get("/demo-service/").content.decode()
    assert "--service-origin http://testserver" in body
    local = new_client(HTTP_HOST="127.0.0.1:8000")
    assert "Se connecter avec Educompte" in local.get("/demo-service/").content.decode()
    assert local.get("/demo-service/callback/?code=x&state=y").status_code == 400


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


def test_selectors_subject_for_is_stable(registered, pupil):
    app = registered.service.application
    assert selectors.subject_for(pupil.user, app) == selectors.subject_for(pupil.user, app)
