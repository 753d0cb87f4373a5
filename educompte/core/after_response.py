"""Work that must not delay an answer, run once the response has been sent.

A view queues callables with ``defer(request, func)``; ``AfterResponseMiddleware`` hands
them to the response, whose ``close()`` Django's handlers call after the body went out (the
WSGI server after writing it, the ASGI handler after sending it, the test client once the
response is complete). No thread: the worker that served the request runs them before it
takes the next one.

Why: with SMTP, a page that waited for the mail server would tell, by how long it took,
which identifiers have a confirmed address ("Mot de passe oublié").
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

log = logging.getLogger("educompte.after_response")

Work = Callable[[], object]
Defer = Callable[[Work], None]

_QUEUE = "_educompte_after_response"


def run_now(work: Work) -> None:
    """Run ``work`` at once, logging a failure instead of raising it."""
    try:
        work()
    except Exception:  # noqa: BLE001 - a failure here must never reach the person served
        log.exception("work after the response failed (%s)", _name(work))


def defer(request: HttpRequest, work: Work) -> None:
    """Run ``work`` once the response to ``request`` has been sent; a failure is logged.

    Without the middleware (a request built by hand) there is no response to wait for:
    ``work`` runs at once."""
    queue = getattr(request, _QUEUE, None)
    if queue is None:
        run_now(work)
    else:
        queue.append(work)


def deferrer(request: HttpRequest) -> Defer:
    """``defer`` bound to this request, for domain functions taking a ``defer`` argument."""
    return functools.partial(defer, request)


def _name(work: Work) -> str:
    inner = getattr(work, "func", work)  # functools.partial
    return getattr(inner, "__qualname__", type(inner).__name__)


def _run_all(queue: list[Work]) -> None:
    for work in queue:
        run_now(work)


class AfterResponseMiddleware:
    """Gives every request a queue; the response runs it when closed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        queue: list[Work] = []
        setattr(request, _QUEUE, queue)
        response = self.get_response(request)
        if not queue:
            return response
        if response.status_code >= 500:
            # The request failed after queuing: the work may describe changes rolled back.
            log.error("request failed: %d piece(s) of work after it dropped", len(queue))
            return response
        # Django's own hook for what close() must release (FileResponse uses it too); close()
        # swallows a closer's exception, hence run_now's logging.
        response._resource_closers.append(functools.partial(_run_all, queue))
        return response
