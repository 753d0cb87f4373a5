"""Every page's footer leads to the accessibility statement, the legal notice and the
personal-data page; error pages have a real title."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = {
    "/accessibilite/": "Déclaration d'accessibilité",
    "/mentions-legales/": "Mentions légales",
    "/donnees-personnelles/": "Données personnelles",
}


def text(response) -> str:
    return html.unescape(response.content.decode())


def title(body: str) -> str:
    return re.search(r"<title>(.*?)</title>", body, re.S).group(1).strip()


@pytest.mark.parametrize("url", ["/", "/connexion/", "/portail/connexion/"])
def test_the_footer_links_to_the_three_pages(client: Client, url):
    body = text(client.get(url))
    footer = body.split('id="footer"', 1)[1]
    for path in PAGES:
        assert f'href="{path}"' in footer


@pytest.mark.parametrize(("url", "heading"), PAGES.items())
def test_each_page_is_served_with_its_title(client: Client, url, heading):
    response = client.get(url)
    assert response.status_code == 200
    body = text(response)
    assert f"<h1>{heading}</h1>" in body
    assert title(body) == f"{heading} — Educompte"


def test_the_personal_data_page_says_what_how_long_and_whom_to_ask(client: Client, settings):
    settings.EDUCOMPTE_RETENTION_DAYS = 92
    settings.EDUCOMPTE_LEGAL_CONTACT = "dpd@ac-exemple.fr"
    body = text(client.get("/donnees-personnelles/"))
    assert "date de naissance" in body
    assert "Argon2id" in body
    assert "effacées au bout de 92 jours" in body
    assert 'href="mailto:dpd@ac-exemple.fr"' in body
    assert "responsable légal" in body


def test_error_pages_have_a_real_title(client: Client):
    body = text(client.get("/nulle-part/"))
    assert title(body) == "Page non trouvée — Educompte"
