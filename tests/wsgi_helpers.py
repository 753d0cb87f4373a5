"""Serve one request as a WSGI server does, to see what happens between sending the body and
closing the response (the test Client closes it before returning, so it cannot tell)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponseBase
from django.test import RequestFactory

from tests.helpers import new_client

_HANDLER: list[WSGIHandler] = []


@contextlib.contextmanager
def kept_connections() -> Iterator[None]:
    # As the test Client does: closing "old" connections would close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclasses.dataclass
class Served:
    status: str
    body: bytes
    response: HttpResponseBase

    def close(self) -> None:
        """What the WSGI server does once the body is on the wire."""
        with kept_connections():
            self.response.close()


def csrf_pair(path: str) -> tuple[str, str]:
    """A CSRF cookie and a form token for it, from a GET of ``path`` (CSRF is enforced:
    this is the real handler, not the test Client's)."""
    page = new_client().get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return page.cookies["csrftoken"].value, token


def post_without_closing(path: str, data: dict, **extra: str) -> Served:
    """POST through Django's WSGI handler; the body is read, the response is left open."""
    cookie, token = csrf_pair(path)
    request = RequestFactory().post(
        path, {**data, "csrfmiddlewaretoken": token}, HTTP_COOKIE=f"csrftoken={cookie}", **extra
    )
    if not _HANDLER:
        _HANDLER.append(WSGIHandler())  # loading the middleware costs: once per session
    started: dict[str, str] = {}

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        started["status"] = status

    with kept_connections():
        response = _HANDLER[0](request.environ, start_response)
        body = b"".join(response)
    return Served(started["status"], body, response)
