"""educompte.core.after_response: work (mail) done once the response is sent, in order,
surviving a failure, dropped with a failed request."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from educompte.core import after_response
from educompte.core import mail as core_mail
from tests.helpers import new_client
from tests.wsgi_helpers import kept_connections, post_without_closing

pytestmark = pytest.mark.usefixtures("locmem_mail")
ADDRESS = "zoe.famille@example.org"


def forgot(query: str, **extra):
    return new_client().post(reverse("pupil:forgot"), {"query": query}, **extra)


# --- The forgotten-password page does not wait for the mail -----------------------------


def test_forgot_answers_before_the_mail_is_sent(recoverable):
    """Served as a WSGI server serves it: the body is complete and the mail not yet sent;
    it goes once the server closes the response."""
    served = post_without_closing(reverse("pupil:forgot"), {"query": recoverable.identifier})
    assert served.status == "200 OK"
    assert "Vérifiez votre messagerie" in served.body.decode()
    assert mail.outbox == []
    served.close()
    assert [m.to for m in mail.outbox] == [[ADDRESS]]


def test_the_test_client_sends_the_deferred_mail_too(recoverable):
    forgot(recoverable.identifier)
    assert [m.to for m in mail.outbox] == [[ADDRESS]]


def test_a_failing_deferred_mail_is_logged_never_shown(recoverable, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the mail backend is broken")

    monkeypatch.setattr(core_mail, "send_mail", broken)
    served = post_without_closing(reverse("pupil:forgot"), {"query": recoverable.identifier})
    unknown = post_without_closing(reverse("pupil:forgot"), {"query": "personne.inconnue"})
    assert served.status == unknown.status == "200 OK"
    with caplog.at_level(logging.ERROR, logger="educompte.after_response"):
        served.close()  # does not raise
        unknown.close()
    [failure] = [r for r in caplog.records if r.name == "educompte.after_response"]
    assert "work after the response failed" in failure.getMessage()
    assert "the mail backend is broken" in failure.exc_text


def test_after_response_runs_in_order_and_survives_a_failure(db, caplog):
    ran = []

    def view(request):
        after_response.defer(request, lambda: ran.append("first"))
        after_response.defer(request, lambda: 1 / 0)
        after_response.defer(request, lambda: ran.append("third"))
        assert ran == []
        return HttpResponse("ok")

    response = after_response.AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert ran == []
    with caplog.at_level(logging.ERROR, logger="educompte.after_response"), kept_connections():
        response.close()
    assert ran == ["first", "third"]
    assert len([r for r in caplog.records if r.name == "educompte.after_response"]) == 1


def test_after_response_drops_the_work_of_a_failed_request(db):
    ran = []

    def view(request):
        after_response.defer(request, lambda: ran.append("mail"))
        return HttpResponse("error", status=500)

    response = after_response.AfterResponseMiddleware(view)(RequestFactory().get("/"))
    with kept_connections():
        response.close()
    assert ran == []


def test_without_the_middleware_the_work_runs_at_once():
    ran = []
    after_response.defer(RequestFactory().get("/"), lambda: ran.append("mail"))
    assert ran == ["mail"]
