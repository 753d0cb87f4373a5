"""OpenID Connect scopes, and DOT's scopes backend: a service gets only the scopes the
academy registered it for."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from oauth2_provider.scopes import BaseScopes

# Scope -> what the pupil's data it releases (shown to academy administrators).
SCOPES = {
    "openid": gettext_lazy("Identifiant du compte propre au service (obligatoire)"),
    "profile": gettext_lazy("Prénom et nom"),
    "educompte": gettext_lazy(
        "Profil (élève du 1er ou du 2nd degré), établissement (UAI), classe et MEF"
    ),
    "email": gettext_lazy("Adresse électronique, seulement si l'élève l'a confirmée"),
}
REQUIRED = "openid"


def normalize(scopes) -> list[str]:
    """Known scopes in the canonical order, ``openid`` always included."""
    wanted = set(scopes.split() if isinstance(scopes, str) else scopes) | {REQUIRED}
    return [scope for scope in SCOPES if scope in wanted]


def unknown(scopes) -> list[str]:
    wanted = scopes.split() if isinstance(scopes, str) else scopes
    return sorted(set(wanted) - SCOPES.keys())


class ServiceScopes(BaseScopes):
    """SCOPES_BACKEND_CLASS: discovery lists every scope; an authorisation request may only
    ask for the scopes of the service's registration."""

    def get_all_scopes(self) -> dict[str, str]:
        return SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return list(SCOPES)
        from educompte.sso.selectors import allowed_scopes

        return allowed_scopes(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return [REQUIRED]
