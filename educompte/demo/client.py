"""« ENT démo »: a school service that signs pupils in with Educompte, to click through.

It is a real OpenID Connect client written with Authlib, hosted in the same process for
convenience but talking to the provider only over HTTP, like any service would: discovery
at the site's own origin (taken from the request), authorisation code flow with PKCE
(S256) and a nonce, token request authenticated with the client secret, ID token checked
by Authlib against the published JWKS (signature, issuer, audience, nonce, expiry,
``at_hash``), then userinfo. It keeps its own state in its own signed cookie, not in
Educompte's session: the two are separate applications.

``educompte demo`` registers it (client id ``ent-demo``) for http://127.0.0.1:8000 and
http://localhost:8000; ``--service-origin`` adds other origins. Its secret is derived from
the installation's SECRET_KEY, so that the registration and the client agree without a
file to share.

The provider calls go back to this same server: it must serve requests concurrently
(``runserver`` does), or the demo waits for itself.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from joserfc.errors import JoseError

from educompte.core.dates import moment
from educompte.sso import claims as sso_claims
from educompte.sso import selectors

log = logging.getLogger("educompte.sso.demo")

CLIENT_ID = "ent-demo"
NAME = "ENT démo"
SCOPES = "openid profile educompte email"
COOKIE = "ent_demo"
_SALT = "educompte.sso.demo_client"  # its former module: cookies already set stay valid
_MAX_AGE = 3600
_TIMEOUT = 10
DEFAULT_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
CLAIM_LABELS = {
    "sub": "identifiant de l'élève pour ce service",
    "given_name": "prénom",
    "family_name": "nom",
    "educompte_profile": "profil",
    "educompte_uai": "établissement (UAI)",
    "educompte_class": "classe",
    "educompte_mef": "MEF",
    "email": "adresse électronique",
    "email_verified": "adresse confirmée",
    "iss": "émetteur (Educompte)",
    "aud": "destinataire (client id du service)",
    "auth_time": "heure de connexion",
    "iat": "émis à",
    "exp": "expiration",
    "nonce": "nonce de la demande",
    "at_hash": "empreinte du jeton d'accès",
    "jti": "identifiant du jeton",
}


def client_secret() -> str:
    """The demo service's secret, derived from the installation's SECRET_KEY."""
    return hmac.new(
        settings.SECRET_KEY.encode(), b"educompte.sso.demo-service", hashlib.sha256
    ).hexdigest()


def callback_path() -> str:
    return reverse("demo_service:callback")


def home_path() -> str:
    return reverse("demo_service:home")


def urls_for(origin: str) -> tuple[str, str]:
    """(redirect URI, post-logout redirect URI) of the demo service served at ``origin``."""
    origin = origin.rstrip("/")
    return origin + callback_path(), origin + home_path()


def _origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _client(request: HttpRequest):
    """An Authlib client for the provider at this request's origin."""
    oauth = OAuth()
    oauth.register(
        "educompte",
        client_id=CLIENT_ID,
        client_secret=client_secret(),
        server_metadata_url=_origin(request) + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPES,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": _TIMEOUT,
        },
    )
    return oauth.educompte


def _read(request: HttpRequest) -> dict:
    try:
        return signing.loads(request.COOKIES.get(COOKIE, ""), salt=_SALT, max_age=_MAX_AGE)
    except signing.BadSignature:
        return {}


def _write(request: HttpRequest, response: HttpResponse, data: dict) -> HttpResponse:
    response.set_cookie(
        COOKIE,
        signing.dumps(data, salt=_SALT, compress=True),
        max_age=_MAX_AGE,
        path=home_path(),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


def _forget(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(COOKIE, path=home_path(), samesite="Lax")
    return response


def _problem(request: HttpRequest, message: str, status: int) -> HttpResponse:
    response = render(request, "demo/problem.html", {"message": message}, status=status)
    return _forget(response)


def _registration_problem(request: HttpRequest) -> str | None:
    """Help for the newcomer: is the demo service registered for this origin?"""
    service = selectors.service_by_client_id(CLIENT_ID)
    if service is None:
        return (
            "ENT démo n'est pas enregistré sur ce serveur Educompte. Lancez "
            "« educompte demo » (ou « make run »)."
        )
    redirect_uri, _home = urls_for(_origin(request))
    if redirect_uri not in service.redirect_uris:
        return (
            f"ENT démo n'est pas enregistré pour l'adresse {_origin(request)}. Lancez "
            f"« educompte demo --service-origin {_origin(request)} »."
        )
    return None


_TIMES = ("exp", "iat", "auth_time")


def _rows(claims: dict) -> list[tuple[str, str, object]]:
    """Claims in a readable order (the labels' order first), times also as dates."""
    order = list(CLAIM_LABELS)
    rows = []
    for name in sorted(claims, key=lambda n: (order.index(n) if n in order else len(order), n)):
        value = claims[name]
        if name in _TIMES and isinstance(value, int):
            when = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
            value = f"{value} ({moment(when)})"
        rows.append((name, CLAIM_LABELS.get(name, ""), value))
    return rows


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    data = _read(request)
    signed_in = "id_token_claims" in data
    context = {
        "signed_in": signed_in,
        "problem": None if signed_in else _registration_problem(request),
        "scopes": SCOPES.split(),
    }
    if signed_in:
        id_claims = data["id_token_claims"]
        context.update(
            id_token_rows=_rows(id_claims),
            userinfo_rows=_rows(data.get("userinfo", {})),
            given_name=id_claims.get("given_name", ""),
            profile=id_claims.get("educompte_profile", ""),
            documented=list(sso_claims.CLAIM_SCOPE),
        )
    return render(request, "demo/home.html", context)


@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """« Se connecter avec Educompte »: off to the provider's authorisation endpoint."""
    problem = _registration_problem(request)
    if problem:
        return _problem(request, problem, 400)
    redirect_uri, _home = urls_for(_origin(request))
    try:
        start = _client(request).create_authorization_url(redirect_uri)
    except (requests.RequestException, AuthlibBaseError, ValueError) as exc:
        log.warning("demo service: discovery failed (%s)", type(exc).__name__)
        return _problem(request, "ENT démo n'arrive pas à joindre Educompte.", 502)
    pending = {
        "state": start["state"],
        "nonce": start["nonce"],
        "code_verifier": start["code_verifier"],
        "redirect_uri": redirect_uri,
    }
    return _write(request, redirect(start["url"]), {"pending": pending})


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """The provider sends the pupil back here with a code (or an error)."""
    pending = _read(request).get("pending")
    if not pending or request.GET.get("state") != pending["state"]:
        return _problem(
            request,
            "Cette connexion n'a pas été demandée depuis ce navigateur, ou elle a expiré. "
            "Recommencez depuis la page d'ENT démo.",
            400,
        )
    if request.GET.get("error"):
        return _problem(request, f"Educompte a refusé la connexion ({request.GET['error']}).", 400)
    client = _client(request)
    try:
        token = client.fetch_access_token(
            redirect_uri=pending["redirect_uri"],
            code=request.GET.get("code", ""),
            code_verifier=pending["code_verifier"],
        )
        # Authlib checks the signature against the JWKS, iss, aud, nonce, exp and at_hash.
        id_claims = client.parse_id_token(token, nonce=pending["nonce"])
        userinfo = client.userinfo(token=token)
    except (requests.RequestException, AuthlibBaseError, JoseError, KeyError, ValueError) as exc:
        log.warning("demo service: sign-in failed (%s)", type(exc).__name__)
        return _problem(request, "ENT démo n'a pas pu vérifier la connexion avec Educompte.", 502)
    data = {
        "id_token_claims": dict(id_claims),
        "userinfo": dict(userinfo),
        "id_token": token["id_token"],
    }
    return _write(request, redirect("demo_service:home"), data)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Leave ENT démo, then let Educompte end its own session (RP-initiated logout)."""
    data = _read(request)
    id_token = data.get("id_token")
    if not id_token:
        return _forget(redirect("demo_service:home"))
    _redirect_uri, home_url = urls_for(_origin(request))
    try:
        end = _client(request).create_logout_url(
            post_logout_redirect_uri=home_url, id_token_hint=id_token, client_id=CLIENT_ID
        )
    except (requests.RequestException, AuthlibBaseError, RuntimeError, ValueError):
        return _forget(redirect("demo_service:home"))
    return _forget(redirect(end["url"]))
