"""Mail through Django's SMTP backend to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime
import email
import email.policy
import re
import socket
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.helpers import new_client
from tests.html_helpers import without_csrf
from tests.wsgi_helpers import post_without_closing

ADDRESS = "zoe.famille@example.org"
NEW = "quatre chevaux bleus sous la pluie"


class Inbox:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def recoverable(zoe):
    """An activated pupil with a confirmed address."""
    account, _provisional = zoe
    birth_date = datetime.date(2011, 3, 14)
    services.activate(account, new_password="Une phrase de passe solide !", birth_date=birth_date)
    StudentAccount.objects.filter(pk=account.pk).update(email=ADDRESS, email_confirmed=True)
    return StudentAccount.objects.select_related("user").get(pk=account.pk)


def test_forgotten_password_mail_goes_through_a_real_smtp_server(settings, recoverable):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        use_smtp(settings, port)
        response = new_client().post(reverse("pupil:forgot"), {"query": recoverable.identifier})
        assert response.status_code == 200
        assert "Vérifiez votre messagerie" in response.text
    finally:
        controller.stop()

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == [ADDRESS]
    assert envelope.mail_from == settings.DEFAULT_FROM_EMAIL
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["To"] == ADDRESS
    assert message["Subject"] == "Educompte : réinitialisation de votre mot de passe"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert recoverable.identifier in body
    links = re.findall(r"https?://\S+", body)
    assert len(links) == 1
    path = urlsplit(links[0]).path
    assert re.fullmatch(r"/connexion/reinitialiser/[^/]+/[^/]+/", path)

    # The link read from the delivered mail works.
    pupil = new_client()
    form_url = pupil.get(path)["Location"]
    done = pupil.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    assert services.sign_in_pupil(recoverable.identifier, NEW).outcome is SignIn.OK


def test_forgot_answers_before_talking_to_the_smtp_server(settings, recoverable):
    """Served as a WSGI server serves it: the whole page is out before the mail server is
    even contacted (else the page's timing tells who has a confirmed address); the mail
    leaves when the server closes the response."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        use_smtp(settings, port)
        served = post_without_closing(reverse("pupil:forgot"), {"query": recoverable.identifier})
        assert served.status == "200 OK"
        assert "Vérifiez votre messagerie" in served.body.decode()
        assert inbox.envelopes == []
        served.close()
    finally:
        controller.stop()
    assert [envelope.rcpt_tos for envelope in inbox.envelopes] == [[ADDRESS]]


def test_forgot_answers_the_same_when_the_mail_server_is_down(settings, recoverable):
    """The page must not differ between a valid account and an unknown identifier, even when
    sending fails (else it tells which identifiers have a confirmed address), and the pupil
    must not get a server error."""
    use_smtp(settings, free_port())  # nothing listens there
    client = new_client()
    client.raise_request_exception = False
    unknown = client.post(reverse("pupil:forgot"), {"query": "personne.inconnue"})
    valid = client.post(reverse("pupil:forgot"), {"query": recoverable.identifier})
    assert unknown.status_code == 200
    assert valid.status_code == unknown.status_code, "the mail failure reaches the pupil"
    # Only the per-response masking of the CSRF token (language form in the footer) differs.
    assert without_csrf(valid.content.decode()) == without_csrf(unknown.content.decode())


def test_activation_with_an_address_survives_a_mail_server_down(settings, zoe):
    """The account is activated before the confirmation mail is sent: a sending failure must
    not turn the activation into a server error that leaves the pupil signed out."""
    account, provisional = zoe
    use_smtp(settings, free_port())  # nothing listens there
    pupil = new_client()
    pupil.raise_request_exception = False
    pupil.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    done = pupil.post(
        reverse("pupil:activate"),
        {
            "new_password1": NEW,
            "new_password2": NEW,
            "birth_date": "14/03/2011",
            "email": ADDRESS,
        },
    )
    account.refresh_from_db()
    assert account.state == "active"  # committed before the mail was tried
    assert done.status_code == 302, "the mail failure reaches the pupil"
    assert pupil.get(reverse("pupil:services")).status_code == 200
