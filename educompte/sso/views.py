"""The OpenID Connect provider's endpoints: DOT's views, with Educompte's rules.

- Authorisation: anonymous visitors go to the pupil sign-in (which runs activation when
  the password is provisional, then comes back here); only pupils with an active account
  authorise; no consent screen (the academy vouches for the services it registers).
  ``prompt=none`` never shows a page (OIDC Core §3.1.2.6): the code, or an error sent to
  the service; ``prompt=login`` and an exceeded ``max_age`` ask the pupil to sign in again.
  Error redirects carry ``iss`` like the successful ones (RFC 9207).
- Userinfo: the access token in the ``Authorization`` header or a form-encoded POST body,
  never in the query string, which ends up in access logs (RFC 6750 §2, RFC 9700 §4.3.2).
- RP-initiated logout: GET only shows the confirmation; ending the session and the
  tokens takes the POST of that form (CSRF-protected).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot
from oauth2_provider.compat import login_not_required
from oauth2_provider.exceptions import (
    InvalidOIDCClientError,
    InvalidOIDCRedirectURIError,
    OAuthToolkitError,
)
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.www_authenticate import build_bearer_challenge
from oauthlib.openid.connect.core.exceptions import InteractionRequired, LoginRequired

from educompte.pupils.models import AccountState
from educompte.sso import services
from educompte.sso.claims import CLAIM_SCOPE

# Set by the pupil sign-in while a provisional password waits to be replaced (activation).
ACTIVATION_SESSION_KEY = "educompte.activation"

# oauthlib error class -> what the visitor is told (the fatal errors are all
# "invalid_request": the class says which parameter is wrong).
ERRORS = {
    "InvalidClientIdError": gettext_lazy("Ce service n'est pas enregistré auprès d'Educompte."),
    "MissingClientIdError": gettext_lazy("La demande de connexion ne désigne aucun service."),
    "InvalidRedirectURIError": gettext_lazy(
        "L'adresse de retour demandée par le service n'est pas enregistrée."
    ),
    "MismatchingRedirectURIError": gettext_lazy(
        "L'adresse de retour demandée par le service n'est pas enregistrée."
    ),
    "MissingRedirectURIError": gettext_lazy("Le service n'a pas indiqué d'adresse de retour."),
}
DEFAULT_ERROR = gettext_lazy("La demande de connexion envoyée par le service est invalide.")


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _with_iss(uri: str, issuer: str) -> str:
    """``uri`` with the RFC 9207 ``iss`` parameter (one, the provider's) in its query."""
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("iss", issuer)])))


def _prompt(request: HttpRequest) -> set[str]:
    # Space-delimited, case-sensitive (OIDC Core §3.1.2.1); unknown values are ignored.
    return set(request.GET.get("prompt", "").split())


def _authentication_too_old(request: HttpRequest) -> bool:
    """Whether the service's ``max_age`` (seconds) has passed since the pupil signed in.
    The sign-in time is the one DOT gives as ``auth_time`` in ID tokens (``last_login``);
    a malformed value counts as 0, the strictest reading."""
    if "max_age" not in request.GET:
        return False
    raw = request.GET["max_age"]
    max_age = int(raw) if raw.isdigit() and len(raw) < 12 else 0
    signed_in_at = request.user.last_login
    return signed_in_at is None or (timezone.now() - signed_in_at).total_seconds() > max_age


class AuthorizationView(dot.AuthorizationView):
    login_url = reverse_lazy("pupil:login")
    template_name = "sso/authorize_error.html"
    # Services are registered by the academy and skip the consent form: no POST here.
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        prompt = _prompt(request)
        refusal = self._silent_refusal(request) if "none" in prompt else self._refusal(request)
        if refusal is not None:
            return refusal
        if "none" not in prompt and _authentication_too_old(request):
            return self.handle_prompt_login()
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
        prompt = _prompt(self.request)
        if "none" in prompt:
            return self._silent_refusal(self.request)
        if "max_age" in self.request.GET:
            # Signing in now satisfies it: back without it (max_age=0 would loop).
            return self.handle_prompt_login()
        return super().handle_no_permission()

    def handle_prompt_login(self) -> HttpResponse:
        """To the sign-in, then back to this request without ``prompt`` and ``max_age``,
        which the new sign-in satisfies."""
        query = self.request.GET.copy()
        for key in ("prompt", "max_age"):
            query.pop(key, None)
        return redirect_to_login(
            f"{self.request.path}?{query.urlencode()}",
            resolve_url(self.get_login_url()),
            self.get_redirect_field_name(),
        )

    def _silent_refusal(self, request: HttpRequest) -> HttpResponse | None:
        """``prompt=none``: None when a code can be issued at once; otherwise the error
        the service is sent (never a page of Educompte's, OIDC Core §3.1.2.6)."""
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        error_class = self._silent_error(request)
        if error_class is None:
            return None
        error = OAuthToolkitError(
            error=error_class(state=credentials.get("state")),
            redirect_uri=credentials["redirect_uri"],
        )
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        return self.error_response(error, application)

    @staticmethod
    def _silent_error(request: HttpRequest) -> type | None:
        user = request.user
        if not user.is_authenticated:
            # A provisional password was given but not yet replaced: activation awaits.
            pending = request.session.get(ACTIVATION_SESSION_KEY)
            return InteractionRequired if pending else LoginRequired
        if not user.is_pupil:
            return LoginRequired  # a staff session: a pupil has to sign in
        if not services.may_use_sso(user):
            # Password to choose, deactivated account: Educompte's pages have to explain.
            return InteractionRequired
        if _authentication_too_old(request):
            return LoginRequired
        return None

    def error_response(self, error, application, **kwargs) -> HttpResponse:
        response = super().error_response(error, application, **kwargs)
        location = response.get("Location", "")
        if response.status_code == 302 and location and not location.startswith("/"):
            issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
            response["Location"] = _with_iss(location, issuer)
        return response

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
            context["message"] = _("Ce service n'a pas été enregistré par l'académie.")
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
        return _("Votre session Educompte reste ouverte.")
    if isinstance(error, InvalidOIDCRedirectURIError):
        return _("L'adresse de retour demandée par le service n'est pas enregistrée.")
    if isinstance(error, InvalidOIDCClientError):
        return _("Ce service n'est pas enregistré auprès d'Educompte.")
    return _("La demande de déconnexion envoyée par le service est invalide ou a expiré.")


# Redefining dispatch drops the parent's decorators: a bearer endpoint, no CSRF or session.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class UserInfoView(dot.UserInfoView):
    """The claims, for an access token in the ``Authorization: Bearer`` header or in a
    form-encoded POST body (RFC 6750 §2.1, §2.2) — one of them, never the query string."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        problem = _token_transport_problem(request)
        if problem:
            return _invalid_request(request, problem)
        return super().dispatch(request, *args, **kwargs)


def _token_transport_problem(request: HttpRequest) -> str:
    if "access_token" in request.GET:
        return "The access token must not be sent in the query string (RFC 6750 section 2)."
    if request.method == "POST" and "access_token" in request.POST:
        if request.content_type != "application/x-www-form-urlencoded":
            return "A token in the body must be form-encoded (RFC 6750 section 2.2)."
        if "HTTP_AUTHORIZATION" in request.META:
            return "The access token must be sent by one method only (RFC 6750 section 2)."
    return ""


def _invalid_request(request: HttpRequest, description: str) -> JsonResponse:
    error = {"error": "invalid_request", "error_description": description}
    response = JsonResponse(error, status=400)
    response["WWW-Authenticate"] = build_bearer_challenge(
        request, error, resource_metadata_url=None
    )
    response["Cache-Control"] = "no-store"
    return response


# DOT's views used as they are: the token endpoint (client authentication, PKCE check)
# and the JWKS.
TokenView = dot.TokenView
JwksView = dot.JwksInfoView

__all__ = [
    "AuthorizationView",
    "DiscoveryView",
    "JwksView",
    "LogoutView",
    "TokenView",
    "UserInfoView",
]
