"""DOT's request validator, tightened for Educompte (OAUTH2_VALIDATOR_CLASS)."""

from __future__ import annotations

from django.db import transaction
from jwcrypto import jws
from oauth2_provider.models import get_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.oauth2.rfc6749 import errors

from educompte.sso import claims, selectors, services

Grant = get_grant_model()
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})


class EducompteValidator(OAuth2Validator):
    """- authorisation code flow only (no implicit, hybrid, password or client credentials);
    - redirect URIs compared character for character (no loopback port leeway);
    - codes and refresh tokens only for pupils whose account is still active;
    - a code presented a second time ends every token its first exchange issued;
    - ``prompt=none``: the session is judged by the authorisation view (oauthlib's request
      carries no user); consent is pre-configured for the services the academy registers;
    - claims: pairwise ``sub`` and the scopes of the service's registration;
    - ID tokens signed by a retired key still recognised (RP-initiated logout)."""

    oidc_claim_scope = claims.CLAIM_SCOPE

    # --- Flows ---------------------------------------------------------------------------

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code" and super().validate_response_type(
            client_id, response_type, client, request, *args, **kwargs
        )

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type in GRANT_TYPES and super().validate_grant_type(
            client_id, grant_type, client, request, *args, **kwargs
        )

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return (
            redirect_uri in request.client.redirect_uris.split()
            and super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs)
        )

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        grant = Grant.objects.filter(code=code, application=client).first()
        return grant is not None and grant.redirect_uri == redirect_uri

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            # DOT deleted the code at its exchange: a known hash means a replay.
            services.revoke_replayed_code(code)
            return False
        return services.may_use_sso(request.user)

    def save_bearer_token(self, token, request, *args, **kwargs):
        # DOT forgets the consumed refresh token on the request while rotating it.
        family = getattr(getattr(request, "refresh_token_instance", None), "token_family", None)
        with transaction.atomic():
            result = super().save_bearer_token(token, request, *args, **kwargs)
            if request.grant_type == "authorization_code":
                services.remember_redeemed_code(request.code, request.client, token["access_token"])
            elif family:
                services.remember_refresh(family, token["access_token"])
        return result

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        try:
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        except errors.InvalidGrantError:
            # Exchanged by a concurrent request meanwhile: both lose what they obtained.
            services.revoke_replayed_code(code)
            raise

    def validate_silent_login(self, request) -> bool:
        # The authorisation view answers login_required / interaction_required itself,
        # from the session, before DOT validates the request.
        return True

    def validate_silent_authorization(self, request) -> bool:
        # No consent screen: the academy vouches for the services it registers.
        return bool(getattr(request.client, "skip_authorization", False))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        return super().validate_refresh_token(
            refresh_token, client, request, *args, **kwargs
        ) and services.may_use_sso(request.user)

    # --- Claims --------------------------------------------------------------------------

    def get_discovery_claims(self, request):
        return list(claims.CLAIM_SCOPE)

    def get_oidc_claims(self, token, token_handler, request):
        granted = set(request.scopes or []) & set(selectors.allowed_scopes(request.client))
        return claims.claims_for(request.user, request.client, granted)

    # --- Keys ----------------------------------------------------------------------------

    def _get_key_for_token(self, token):
        """The current key, or the retired key named by the token's ``kid``."""
        key = super()._get_key_for_token(token)
        if key is None or key.get("kty") != "RSA":
            return key
        parsed = jws.JWS()
        parsed.deserialize(token)
        wanted = parsed.jose_header.get("kid")
        if not wanted or wanted == key.thumbprint():
            return key
        for pem in oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE:
            retired = jwk_from_pem(pem)
            if retired.thumbprint() == wanted:
                return retired
        return key
