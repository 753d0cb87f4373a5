"""The OpenID Connect provider's endpoints: DOT's views, with Educompte's rules.

- Authorisation: anonymous visitors go to the pupil sign-in (which runs activation when
  the password is provisional, then comes back here); only pupils with an active account
  authorise; no consent screen (the academy vouches for the services it registers).
- RP-initiated logout: GET only shows the confirmation; ending the session and the
  tokens takes the POST of that form (CSRF-protected).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from oauth2_provider import views as dot
from oauth2_provider.exceptions import (
    InvalidOIDCClientError,
    InvalidOIDCRedirectURIError,
    OAuthToolkitError,
)
from oauth2_provider.models import get_application_model

from educompte.pupils.models import AccountState
from educompte.sso.claims import CLAIM_SCOPE

# oauthlib error class -> what the visitor is told (the fatal errors are all
# "invalid_request": the class says which parameter is wrong).
ERRORS = {
    "InvalidClientIdError": "Ce service n'est pas enregistré auprès d'Educompte.",
    "MissingClientIdError": "La demande de connexion ne désigne aucun service.",
    "InvalidRedirectURIError": (
        "L'adresse de retour demandée par le service n'est pas enregistrée."
    ),
    "MismatchingRedirectURIError": (
        "L'adresse de retour demandée par le service n'est pas enregistrée."
    ),
    "MissingRedirectURIError": "Le service n'a pas indiqué d'adresse de retour.",
}
DEFAULT_ERROR = "La demande de connexion envoyée par le service est invalide."


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


class AuthorizationView(dot.AuthorizationView):
    login_url = reverse_lazy("pupil:login")
    template_name = "sso/authorize_error.html"
    # Services are registered by the academy and skip the consent form: no POST here.
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        response = super().get(request, *args, **kwargs)
        if response.status_code == 302 and not response["Location"].startswith("/"):
            # Off to the service (absolute redirect URI): Educompte's pending messages
            # ("Votre compte est activé"…) would only surface, stale, on a later page.
            for _message in messages.get_messages(request):
                pass
        return response

    def handle_no_permission(self) -> HttpResponse:
        # Check the request before asking anybody to sign in: a bad client or redirect
        # URI is reported at once, and the sign-in page is never a trampoline.
        try:
            self.validate_authorization_request(self.request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        return super().handle_no_permission()

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not user.is_pupil:
            return render(request, "sso/refused.html", {"reason": "agent"}, status=403)
        account = getattr(user, "student_account", None)
        if account is None or account.state != AccountState.ACTIVE:
            reason = "deactivated" if account and account.state == AccountState.DEACTIVATED else ""
            return render(request, "sso/refused.html", {"reason": reason or "inactive"}, status=403)
        return None

    def render_to_response(self, context, **kwargs):
        error = context.get("error")
        if error is None:
            # Only an application registered outside Educompte asks for consent: refuse.
            context["message"] = "Ce service n'a pas été enregistré par l'académie."
            kwargs["status"] = 403
        else:
            context["message"] = ERRORS.get(type(error).__name__, DEFAULT_ERROR)
        return super().render_to_response(context, **kwargs)


class DiscoveryView(dot.ConnectDiscoveryInfoView):
    def get(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["grant_types_supported"] = ["authorization_code", "refresh_token"]
        # Every service is registered for RS256 (DOT would also list HS256).
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        data["claims_supported"] = list(CLAIM_SCOPE)
        data["response_modes_supported"] = ["query"]
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out


class LogoutView(dot.RPInitiatedLogoutView):
    template_name = "sso/logout.html"

    def must_prompt(self, token_user) -> bool:
        # Always confirm: the session and the tokens only end on the form's POST.
        return True

    def get_request_application(self, id_token, client_id):
        if client_id:
            application = get_application_model().objects.filter(client_id=client_id).first()
            if application is None:
                raise InvalidOIDCClientError()
            return application
        return super().get_request_application(id_token, client_id)

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)
        if post_logout_redirect_uri and (
            post_logout_redirect_uri not in application.post_logout_redirect_uris.split()
        ):
            raise InvalidOIDCRedirectURIError(
                "This client does not have this redirect uri registered."
            )

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        target = self.oidc_data.get("post_logout_redirect_uri")
        if response.status_code == 200 and target:
            # The confirmation is a form whose answer redirects to the service: let it.
            response._csp_update = {"form-action": [_origin(target)]}
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signed_in"] = self.request.user.is_authenticated
        return context

    def error_response(self, error):
        return render(
            self.request,
            self.template_name,
            {"error": error, "message": _logout_message(error)},
            status=error.status_code,
        )


def _logout_message(error) -> str:
    if getattr(error, "error", "") == "logout_denied":
        return "Vous êtes resté connecté à Educompte."
    if isinstance(error, InvalidOIDCRedirectURIError):
        return "L'adresse de retour demandée par le service n'est pas enregistrée."
    if isinstance(error, InvalidOIDCClientError):
        return "Ce service n'est pas enregistré auprès d'Educompte."
    return "La demande de déconnexion envoyée par le service est invalide ou a expiré."


# DOT's views used as they are: the token endpoint (client authentication, PKCE check),
# userinfo (bearer token) and the JWKS.
TokenView = dot.TokenView
UserInfoView = dot.UserInfoView
JwksView = dot.JwksInfoView

__all__ = [
    "AuthorizationView",
    "DiscoveryView",
    "JwksView",
    "LogoutView",
    "TokenView",
    "UserInfoView",
]
