"""Changes to services (SSO clients) and to pupils' SSO tokens.

Academy views, the ``add-service`` command, the demo and tests all go through these.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.pupils.models import AccountState
from educompte.sso import scopes as sso_scopes
from educompte.sso.models import RedeemedCode, Service

log = logging.getLogger("educompte.sso")
Application = get_application_model()
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclasses.dataclass
class Registered:
    service: Service
    client_secret: str  # in clear: shown once, only its hash is kept


# --- Validation -------------------------------------------------------------------------


def _split(value: str | Iterable[str]) -> list[str]:
    items = value.split() if isinstance(value, str) else [v for item in value for v in item.split()]
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def clean_uris(value: str | Iterable[str], *, required: bool, what: str) -> list[str]:
    """Absolute https URLs (http only for 127.0.0.1/localhost where the settings allow it),
    without fragment, credentials or wildcard. They are matched character for character."""
    uris = _split(value)
    if required and not uris:
        raise ValidationError(_("Indiquez au moins une %(what)s.") % {"what": what})
    allow_http = "http" in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
    for uri in uris:
        parts = urlsplit(uri)
        problem = None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = _("ce n'est pas une adresse web complète (https://…)")
        elif parts.scheme == "http" and not (allow_http and parts.hostname in LOOPBACK_HOSTS):
            problem = (
                _(
                    "elle doit commencer par https:// (http:// n'est accepté que pour "
                    "127.0.0.1 et localhost, hors production)"
                )
                if allow_http
                else _(
                    "elle doit commencer par https:// (http:// n'est accepté que pour "
                    "127.0.0.1 en développement)"
                )
            )
        elif "#" in uri:
            problem = _("elle ne peut pas contenir de fragment (#)")
        elif "@" in parts.netloc:
            problem = _("elle ne peut pas contenir d'identifiants (@)")
        elif "*" in uri:
            problem = _("les jokers (*) ne sont pas acceptés")
        else:
            try:
                parts.port  # noqa: B018 - raises ValueError on a bad port
            except ValueError:
                problem = _("le port est invalide")
        if problem:
            raise ValidationError(
                _("« %(uri)s » refusée : %(problem)s.") % {"uri": uri, "problem": problem}
            )
    return uris


def clean_scopes(value: str | Iterable[str]) -> list[str]:
    bad = sso_scopes.unknown(_split(value))
    if bad:
        raise ValidationError(
            _("Données inconnues : %(bad)s (possibles : %(known)s).")
            % {"bad": ", ".join(bad), "known": ", ".join(sso_scopes.SCOPES)}
        )
    return sso_scopes.normalize(_split(value))


def clean_name(name: str, *, exclude: Service | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Indiquez le nom du service."))
    if len(name) > 255:
        raise ValidationError(_("Le nom ne peut pas dépasser 255 caractères."))
    taken = Service.objects.filter(application__name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError(_("Un service porte déjà ce nom."))
    return name


# --- Services ---------------------------------------------------------------------------


@transaction.atomic
def register_service(
    name: str,
    redirect_uris: str | Iterable[str],
    scopes: str | Iterable[str] = ("openid",),
    *,
    home_url: str = "",
    post_logout_redirect_uris: str | Iterable[str] = (),
    by: authz.Principal,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> Registered:
    """Register a service: academy administrators (and the operator) only. Raises
    ValidationError (field -> messages) on bad input."""
    authz.require_academy_admin(by)
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for field, clean in (
        ("name", lambda: clean_name(name)),
        (
            "redirect_uris",
            lambda: clean_uris(redirect_uris, required=True, what=_("adresse de retour")),
        ),
        ("scopes", lambda: clean_scopes(scopes)),
        ("home_url", lambda: clean_uris(home_url, required=False, what=_("adresse d'accueil"))),
        (
            "post_logout_redirect_uris",
            lambda: clean_uris(
                post_logout_redirect_uris, required=False, what=_("adresse après déconnexion")
            ),
        ),
    ):
        try:
            cleaned[field] = clean()
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    secret = client_secret or generate_client_secret()
    application = Application(
        name=cleaned["name"],
        redirect_uris=" ".join(cleaned["redirect_uris"]),
        post_logout_redirect_uris=" ".join(cleaned["post_logout_redirect_uris"]),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        algorithm=Application.RS256_ALGORITHM,
        # The academy vouches for the services it registers: no consent screen.
        skip_authorization=True,
        hash_client_secret=True,
        client_secret=secret,
    )
    if client_id:
        application.client_id = client_id
    application.full_clean(exclude=["client_secret", "user"])
    application.save()  # DOT hashes the secret on save
    service = Service.objects.create(
        application=application,
        allowed_scopes=" ".join(cleaned["scopes"]),
        home_url=" ".join(cleaned["home_url"]),
        registered_by=authz.as_user(by),
    )
    log.info("service registered: %s (%s)", application.name, application.client_id)
    record(
        AuditEvent.Action.SERVICE_REGISTERED,
        actor=by,
        service=application.name,
        client_id=application.client_id,
    )
    return Registered(service, secret)


@transaction.atomic
def update_service(
    service: Service,
    *,
    name: str | None = None,
    redirect_uris: str | Iterable[str] | None = None,
    scopes: str | Iterable[str] | None = None,
    home_url: str | None = None,
    post_logout_redirect_uris: str | Iterable[str] | None = None,
    by: authz.Principal,
) -> Service:
    """Change what is given (None keeps a field). Narrowing the scopes ends the service's
    tokens, so that it gets no more than it is now registered for."""
    authz.require_academy_admin(by)
    errors: dict[str, list[str]] = {}
    application = service.application
    checks = {
        "name": (name, lambda v: clean_name(v, exclude=service)),
        "redirect_uris": (
            redirect_uris,
            lambda v: " ".join(clean_uris(v, required=True, what=_("adresse de retour"))),
        ),
        "scopes": (scopes, lambda v: " ".join(clean_scopes(v))),
        "home_url": (
            home_url,
            lambda v: " ".join(clean_uris(v, required=False, what=_("adresse d'accueil"))),
        ),
        "post_logout_redirect_uris": (
            post_logout_redirect_uris,
            lambda v: " ".join(clean_uris(v, required=False, what=_("adresse après déconnexion"))),
        ),
    }
    cleaned = {}
    for field, (value, clean) in checks.items():
        if value is None:
            continue
        try:
            cleaned[field] = clean(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    narrowed = "scopes" in cleaned and not set(service.scopes) <= set(cleaned["scopes"].split())
    for field in ("name", "redirect_uris", "post_logout_redirect_uris"):
        if field in cleaned:
            setattr(application, field, cleaned[field])
    application.save()
    if "scopes" in cleaned:
        service.allowed_scopes = cleaned["scopes"]
    if "home_url" in cleaned:
        service.home_url = cleaned["home_url"]
    service.save()
    if narrowed:
        _delete_tokens(application=application)
    log.info("service updated: %s (%s)", application.name, application.client_id)
    record(
        AuditEvent.Action.SERVICE_UPDATED,
        actor=by,
        service=application.name,
        client_id=application.client_id,
    )
    return service


@transaction.atomic
def new_client_secret(service: Service, *, by: authz.Principal) -> str:
    """A new secret replaces the old one at once; returned in clear, to show once."""
    authz.require_academy_admin(by)
    secret = generate_client_secret()
    application = service.application
    application.client_secret = secret
    application.save()
    log.info("client secret replaced: %s (%s)", application.name, application.client_id)
    record(
        AuditEvent.Action.SERVICE_SECRET_REPLACED,
        actor=by,
        service=application.name,
        client_id=application.client_id,
    )
    return secret


@transaction.atomic
def revoke_service(service: Service, *, by: authz.Principal) -> None:
    """The service can no longer sign anybody in: its registration, codes and tokens go."""
    authz.require_academy_admin(by)
    application = service.application
    log.info("service revoked: %s (%s)", application.name, application.client_id)
    record(
        AuditEvent.Action.SERVICE_REVOKED,
        actor=by,
        service=application.name,
        client_id=application.client_id,
    )
    _delete_tokens(application=application)
    application.delete()  # cascades to the Service row and the pairwise subjects


# --- Pupils' tokens ---------------------------------------------------------------------


def _delete_tokens(**where) -> None:
    get_grant_model().objects.filter(**where).delete()
    get_refresh_token_model().objects.filter(**where).delete()
    get_access_token_model().objects.filter(**where).delete()
    get_id_token_model().objects.filter(**where).delete()


def revoke_pupil_tokens(user_ids: Iterable[int]) -> None:
    """End everything the pupils' former credentials opened at services: authorisation
    codes, access, refresh and ID tokens (userinfo answers 401 from now on)."""
    user_ids = list(user_ids)
    for start in range(0, len(user_ids), 500):  # a whole-school change stays within limits
        _delete_tokens(user_id__in=user_ids[start : start + 500])


def may_use_sso(user) -> bool:
    """Only pupils whose account is active sign in to services."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.is_pupil:
        return False
    account = getattr(user, "student_account", None)
    return account is not None and account.state == AccountState.ACTIVE


# --- Replayed authorisation codes (RFC 6749 §4.1.2) --------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _issued_lifetime() -> datetime.timedelta:
    """How long tokens issued at an exchange (or a refresh) may stay usable: the access
    token, then the refresh token bound to it."""
    return datetime.timedelta(
        seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
        + (oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS or 0)
    )


def _issued(access_token_value: str) -> tuple[uuid.UUID | None, str | None]:
    """(refresh token family, ID token jti) of the access token just issued."""
    access = (
        get_access_token_model()
        .objects.filter(token_checksum=_sha256(access_token_value))
        .select_related("id_token")
        .first()
    )
    if access is None:
        return None, None
    family = (
        get_refresh_token_model()
        .objects.filter(access_token=access)
        .values_list("token_family", flat=True)
        .first()
    )
    return family, (str(access.id_token.jti) if access.id_token else None)


def remember_redeemed_code(code: str, application, access_token_value: str) -> None:
    """Called when a code has just been exchanged: keep its hash and what it issued."""
    family, jti = _issued(access_token_value)
    now = timezone.now()
    RedeemedCode.objects.filter(expires__lt=now).delete()  # nothing left alive to end
    RedeemedCode.objects.create(
        code_hash=_sha256(code),
        application=application,
        token_family=family,
        id_token_jtis=[jti] if jti else [],
        expires=now + _issued_lifetime(),
    )


def remember_refresh(family: uuid.UUID, access_token_value: str) -> None:
    """Called after a refresh in ``family``: the new ID token descends from the same code,
    and the family lives on."""
    _family, jti = _issued(access_token_value)
    for redeemed in RedeemedCode.objects.select_for_update().filter(token_family=family):
        if jti and jti not in redeemed.id_token_jtis:
            redeemed.id_token_jtis.append(jti)
        redeemed.expires = timezone.now() + _issued_lifetime()
        redeemed.save(update_fields=["id_token_jtis", "expires"])


@transaction.atomic
def revoke_replayed_code(code: str) -> bool:
    """A code presented again: end the refresh, access and ID tokens every exchange of it
    issued. False when the code was never exchanged (unknown, or its tokens long gone)."""
    redeemed = list(RedeemedCode.objects.filter(code_hash=_sha256(code)))
    for exchange in redeemed:
        get_refresh_token_model().revoke_family(exchange.token_family)
        get_id_token_model().objects.filter(jti__in=exchange.id_token_jtis).delete()
        log.warning(
            "authorisation code replayed: its tokens are revoked (%s)",
            exchange.application.client_id,
        )
    return bool(redeemed)
