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
