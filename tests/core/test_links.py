"""Links mailed to pupils are built on the configured public address, never on the Host
header of the request (issue 11)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from tests.helpers import new_client, signed_in

pytestmark = pytest.mark.usefixtures("locmem_mail")
CHOSEN = "Une phrase de passe solide !"
ADDRESS = "zoe.famille@example.org"
ATTACKER = "neuve.adresse@pirate.example"
LINK_RE = re.compile(r"https?://\S+")


def links(message) -> list[str]:
    return LINK_RE.findall(message.body)


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def change_email(client, email: str, current: str | None = CHOSEN, **extra):
    data = {"what": "email", "mail-email": email}
    if current is not None:
        data["mail-current_password"] = current
    return client.post(reverse("pupil:account"), data, **extra)


def forgot(query: str, **extra):
    return new_client().post(reverse("pupil:forgot"), {"query": query}, **extra)


# --- 14. Mailed links from the configuration, not from the Host header ---------------------


PUBLIC = "https://comptes.ac-exemple.fr"
FORGED = {"HTTP_HOST": "127.0.0.1:6666"}  # an allowed host, with the attacker's port


@pytest.fixture
def public_url(settings):
    settings.EDUCOMPTE_PUBLIC_URL = PUBLIC
    return PUBLIC


def _only_link(message) -> str:
    [link] = links(message)
    assert link.startswith(PUBLIC + "/"), link
    assert "6666" not in link
    return link


def test_forgot_link_ignores_a_forged_host(public_url, recoverable):
    response = forgot(recoverable.identifier, **FORGED)
    assert response.status_code == 200
    [message] = mail.outbox
    assert urlsplit(_only_link(message)).path.startswith("/connexion/reinitialiser/")


def test_confirmation_link_ignores_a_forged_host(public_url, recoverable):
    done = change_email(signed_in(recoverable.user), ATTACKER, **FORGED)
    assert done.status_code == 302
    [message] = mails_to(ATTACKER)
    assert urlsplit(_only_link(message)).path.startswith("/mon-compte/confirmer-adresse/")


def test_activation_confirmation_link_ignores_a_forged_host(public_url, zoe):
    account, provisional = zoe
    pupil = new_client()
    pupil.post(
        reverse("pupil:login"),
        {"username": account.identifier, "password": provisional},
        **FORGED,
    )
    done = pupil.post(
        reverse("pupil:activate"),
        {
            "new_password1": CHOSEN,
            "new_password2": CHOSEN,
            "birth_date": "14/03/2011",
            "email": ADDRESS,
        },
        **FORGED,
    )
    assert done.status_code == 302
    [message] = mail.outbox
    assert urlsplit(_only_link(message)).path.startswith("/mon-compte/confirmer-adresse/")
