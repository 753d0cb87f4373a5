"""English mode is complete: every page of the pupil, staff, academy and single sign-on
journeys, rendered in English, shows no French of the interface (data — names, classes,
reasons typed by staff — excepted: table bodies and list options are left out)."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.urls import reverse

from educompte.accounts.models import User
from educompte.demo.services import COLLEGE_UAI, load_demo
from educompte.pupils.models import AccountState, StudentAccount
from tests.helpers import new_client, signed_in, verified_client

pytestmark = pytest.mark.django_db

# Words that only a French interface would show (accents alone would flag pupils' names).
FRENCH = re.compile(
    r"\b(vous|votre|vos|les|des|une|avec|pour|dans|aux|établissement|élèves?|"
    r"mot de passe|connexion|déconnecter|réinitialiser|compte|Retour|Accueil|Rechercher)\b",
    re.IGNORECASE,
)
DATA = re.compile(r"<(tbody|select|script|style|datalist)\b.*?</\1>", re.S)


# Proper names kept in French on purpose (the English text glosses them).
KEPT = ("Défenseur des droits",)


def interface_text(body: str) -> str:
    body = DATA.sub(" ", body)
    for name in KEPT:
        body = body.replace(name, " ")
    body = re.sub(r"<title>.*?</title>", " ", body, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return " ".join(text.split())


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def pages() -> dict[str, tuple[object, list[str]]]:
    load_demo()
    informed = StudentAccount.objects.filter(
        student__establishment__uai=COLLEGE_UAI, state=AccountState.INFORMED
    ).first()
    active = User.objects.filter(
        student_account__state=AccountState.ACTIVE,
        student_account__student__establishment__uai=COLLEGE_UAI,
    ).first()
    head = User.objects.get(username="principal.demo")
    return {
        "anonymous": (
            new_client(),
            [
                "/",
                reverse("pupil:login"),
                reverse("pupil:forgot"),
                reverse("pupil:ask_school"),
                reverse("portal:login"),
                reverse("portal:forgot"),
                reverse("accessibility"),
                reverse("legal_notice"),
                reverse("personal_data"),
                "/nulle-part/",
                reverse("oauth2_provider:rp-initiated-logout"),
            ],
        ),
        "pupil": (
            signed_in(active),
            [
                reverse("pupil:services"),
                reverse("pupil:account"),
                reverse("oauth2_provider:rp-initiated-logout"),
            ],
        ),
        "staff": (
            signed_in(User.objects.get(username="vie-scolaire.demo")),
            [
                reverse("portal:index"),
                reverse("portal:account"),
                reverse("depannage:pupils", args=[COLLEGE_UAI]),
                reverse("depannage:requests", args=[COLLEGE_UAI]),
                reverse("depannage:reset", args=[COLLEGE_UAI, informed.pk]),
            ],
        ),
        "head": (
            verified_client(head),
            [
                reverse(name, args=[COLLEGE_UAI])
                for name in (
                    "administration:pupils",
                    "administration:activation",
                    "administration:letters",
                    "administration:import",
                    "administration:transfers",
                    "administration:staff",
                    "administration:delegations",
                    "administration:journal",
                )
            ]
            + [reverse("otp:verify")],
        ),
        "academy": (
            verified_client(User.objects.get(username="academie.demo")),
            [
                reverse("academy:index"),
                reverse("academy:establishment", args=[COLLEGE_UAI]),
                reverse("academy:agents"),
                reverse("academy:services"),
            ],
        ),
    }


def test_every_page_in_english_shows_no_french():
    found = []
    for who, (client, urls) in pages().items():
        english(client)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 404), (who, url, response.status_code)
            assert response["Content-Language"] == "en", (who, url)
            text = interface_text(response.content.decode())
            words = sorted({m.group(0) for m in FRENCH.finditer(text)})
            if words:
                where = FRENCH.search(text).start()
                found.append(f"{who} {url}: {words} … «{text[max(0, where - 60) : where + 60]}»")
    assert not found, "\n".join(found)


def test_the_detector_sees_french():
    """Control: the same pages in French are caught."""
    client, urls = pages()["anonymous"]
    text = interface_text(client.get(urls[1]).content.decode())
    assert FRENCH.search(text)
