"""Navigation shared by every console: where to go next after signing in, the way back to
a filtered list, and the one-shot result pages of a bulk action."""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from educompte.core.links import absolute_reverse

# How many bulk results a session keeps: the latest few, never the whole history.
KEPT_BATCHES = 4


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it leads back to this very site, else "". Another host, a
    scheme-relative ``//host`` or a ``javascript:`` URL is refused, and so is ``http://``
    when the request came over HTTPS."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def requested_next(request: HttpRequest) -> str:
    """The ``next`` of the form (POST) or of the link (GET), if safe."""
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))


def with_query(url: str, querystring: str) -> str:
    """``url`` with the list's filters (an encoded query string) kept, if any."""
    return f"{url}?{querystring}" if querystring else url


def back_to(name: str, uai: str, back: str) -> str:
    """The console's list ``name`` of establishment ``uai``, with the filters ``back`` the
    page was reached with (the hidden ``back`` field of its forms)."""
    return with_query(reverse(name, args=[uai]), back)


def email_confirm_url(token: str) -> str:
    """The absolute link a pupil receives to confirm an e-mail address."""
    return absolute_reverse("pupil:confirm_email", token)


def remember_batch(request: HttpRequest, key: str, batch: object) -> str:
    """Keep ``batch`` (ids of accounts: the passwords stay encrypted in the database) in the
    session under a new token, with the session's latest few batches of ``key`` only; the
    result page reads it back with :func:`recall_batch`."""
    token = secrets.token_urlsafe(12)
    batches = dict(list(request.session.get(key, {}).items())[-KEPT_BATCHES:])
    batches[token] = batch
    request.session[key] = batches
    return token


def recall_batch(request: HttpRequest, key: str, token: str) -> object | None:
    """The batch :func:`remember_batch` kept under ``token``, or None (unknown, too old or
    another session's)."""
    return request.session.get(key, {}).get(token)
