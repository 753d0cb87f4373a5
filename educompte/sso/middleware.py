"""Let the pupil sign-in and activation forms end at the service that asked for them.

Chromium applies CSP ``form-action`` to every redirect that follows a form submission.
When a service sends a pupil to sign in, the sign-in (or activation) POST redirects to the
authorisation endpoint, which redirects to the service's callback on another origin: under
``form-action 'self'`` the browser would stop there. On those two pages, while the session
holds a pending authorisation request of a registered service, this middleware adds that
request's redirect URI origin (checked against the registration) to ``form-action``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from educompte.sso import selectors

# The pupil views keep the page to return to in the session under this key.
NEXT_SESSION_KEY = "educompte.next"
PUPIL_FORMS = frozenset({"pupil:login", "pupil:activate"})


def service_origin(next_url: str | None) -> str | None:
    """The origin of the registered redirect URI that ``next_url`` (an authorisation
    request on this site) would end at, if any."""
    if not next_url:
        return None
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or parts.path != reverse("oauth2_provider:authorize"):
        return None
    query = parse_qs(parts.query)
    client_id = (query.get("client_id") or [""])[0]
    redirect_uri = (query.get("redirect_uri") or [""])[0]
    if not client_id or not redirect_uri:
        return None
    service = selectors.service_by_client_id(client_id)
    if service is None or redirect_uri not in service.redirect_uris:
        return None
    target = urlsplit(redirect_uri)
    return f"{target.scheme}://{target.netloc}"


class ServiceFormActionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        session = getattr(request, "session", None)
        if match is None or match.view_name not in PUPIL_FORMS or session is None:
            return response
        origin = service_origin(session.get(NEXT_SESSION_KEY))
        if origin:
            update = dict(getattr(response, "_csp_update", None) or {})
            update["form-action"] = [*update.get("form-action", []), origin]
            response._csp_update = update
        return response
