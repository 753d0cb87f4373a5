"""An OpenID Connect relying party (Authlib over Django's test client) and the flows the
single sign-on tests share."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.helpers import new_client

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


def authorize(browser, rp: RelyingParty, **extra):
    return browser.get(rp.authorization_url(**extra))


def callback_url(response) -> str:
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return location


def sign_in_flow(browser, rp: RelyingParty) -> tuple[dict, CodeIDToken]:
    token = rp.fetch_token(callback_url(authorize(browser, rp)))
    return token, rp.verify_id_token(token)
