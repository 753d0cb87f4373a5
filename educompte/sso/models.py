"""What Educompte keeps about the services (SSO clients) beyond DOT's Application."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class Service(models.Model):
    """A school service registered by the academy: one DOT Application (client id, hashed
    secret, redirect URIs) plus what the academy allows it to receive."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="service"
    )
    # Space-separated, canonical order (educompte.sso.scopes.SCOPES), always with openid.
    allowed_scopes = models.CharField(_("données transmises"), max_length=200, default="openid")
    # Where "Mes services" sends the pupil (the service's own page); optional.
    home_url = models.URLField(_("adresse d'accueil du service"), blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    registered_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("service")

    def __str__(self) -> str:
        return self.application.name

    @property
    def name(self) -> str:
        return self.application.name

    @property
    def scopes(self) -> list[str]:
        return self.allowed_scopes.split()

    @property
    def redirect_uris(self) -> list[str]:
        return self.application.redirect_uris.split()

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return self.application.post_logout_redirect_uris.split()


def _new_subject() -> str:
    return secrets.token_urlsafe(24)


class PairwiseSubject(models.Model):
    """The ``sub`` a service knows a pupil by: random, drawn once per (pupil, service), so
    two services cannot correlate their users and no key has to be kept to recompute it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pairwise_subjects"
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sub = models.CharField(max_length=64, unique=True, default=_new_subject)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="pairwise_unique_pair")
        ]

    def __str__(self) -> str:
        return self.sub


class RedeemedCode(models.Model):
    """An authorisation code already exchanged for tokens, remembered by its hash while
    the tokens it opened may live. DOT deletes the code at the exchange; this record is
    what recognises a second exchange (an intercepted or leaked code) and lets it end
    every token the first one issued (RFC 6749 §4.1.2)."""

    code_hash = models.CharField(max_length=64, db_index=True)  # SHA-256, hex
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # Every refresh token descending from the code shares this family (rotation keeps it);
    # DOT's RefreshToken.revoke_family ends them and their access tokens.
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    # ``jti`` of the ID tokens of the exchange and of each refresh since (plain values:
    # DOT's token models are swappable and Educompte does not name them in its settings).
    id_token_jtis = models.JSONField(default=list, blank=True)
    redeemed_at = models.DateTimeField(auto_now_add=True)
    # Pushed back at each refresh: past it, nothing issued from the code can be alive.
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"RedeemedCode #{self.pk}"
