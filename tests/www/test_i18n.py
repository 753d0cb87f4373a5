"""French by default, English on request: the language switch of the footer, the session
cookie it sets, and the browser's Accept-Language header."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.helpers import new_client
from tests.html_helpers import label_of

pytestmark = pytest.mark.django_db

_LANGUAGE_FORM = re.compile(r'<form[^>]*id="language-form"[^>]*>.*?</form>', re.S)


def _text(response) -> str:
    """The page text with its tags dropped and its spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _language_form(response) -> str:
    found = _LANGUAGE_FORM.findall(response.content.decode())
    assert len(found) == 1, "expected one language form in the footer"
    return found[0]


def _switch_to_english(client, next_url: str = "/"):
    response = client.post(reverse("set_language"), {"language": "en", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    return response


@pytest.fixture
def depannage_url(college):
    return reverse("depannage:pupils", args=[college.uai])


# --- French by default ---------------------------------------------------------------


def test_home_page_is_french_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr"' in response.content.decode()
    text = _text(response)
    assert "Bienvenue sur Educompte" in text
    assert "Je suis élève" in text
    assert "Welcome to Educompte" not in text


def test_pupil_sign_in_is_french_by_default(client):
    response = client.get(reverse("pupil:login"))
    text = _text(response)
    assert "Connexion élève" in text
    assert "Mot de passe oublié ?" in text
    # DSFR marks a required field with " *" at the end of its label.
    assert label_of(response.content.decode(), "username") == "Identifiant *"
    assert "Pupil sign-in" not in text


def test_depannage_console_is_french_by_default(client_for, delegate, zoe, depannage_url):
    response = client_for(delegate).get(depannage_url)
    assert response.status_code == 200
    text = _text(response)
    assert "Dépannage des comptes élèves" in text
    assert "Rechercher un ou des élève(s)" in text
    assert "1 élève" in text
    assert "Non activé - informé" in text
    assert "Réinitialiser le mot de passe" in text
    assert "Pupil account support" not in text


# --- English after the language switch ------------------------------------------------


def test_language_switch_turns_the_pages_into_english(client, college):
    _switch_to_english(client)
    home = client.get("/")
    assert home["Content-Language"] == "en"
    assert '<html lang="en"' in home.content.decode()
    text = _text(home)
    assert "Welcome to Educompte" in text
    assert "I am a pupil" in text
    assert "Bienvenue sur Educompte" not in text

    sign_in = client.get(reverse("pupil:login"))
    text = _text(sign_in)
    assert "Pupil sign-in" in text
    assert "Forgotten password?" in text
    assert "Connexion élève" not in text
    assert label_of(sign_in.content.decode(), "username") == "Identifier *"
    assert label_of(sign_in.content.decode(), "password") == "Password *"


def test_language_switch_translates_the_depannage_console(client_for, delegate, zoe, depannage_url):
    client = client_for(delegate)
    _switch_to_english(client, depannage_url)
    response = client.get(depannage_url)
    assert response.status_code == 200
    text = _text(response)
    assert "Pupil account support" in text
    assert "Search for one or more pupils" in text
    assert "1 pupil" in text
    assert "Not activated - informed" in text
    assert "Reset password" in text
    assert "Dépannage des comptes élèves" not in text
    assert "Réinitialiser le mot de passe" not in text


def test_messages_from_views_follow_the_language(client, zoe):
    _switch_to_english(client)
    account, _password = zoe
    response = client.post(
        reverse("pupil:login"), {"username": account.identifier, "password": "not-the-password"}
    )
    assert response.status_code == 400
    text = _text(response)
    assert "Incorrect identifier or password." in text
    assert "Identifiant ou mot de passe incorrect" not in text


def test_switching_back_to_french(client):
    _switch_to_english(client)
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert "Bienvenue sur Educompte" in _text(client.get("/"))


# --- The browser's preference ---------------------------------------------------------


def test_accept_language_english_gives_english(client):
    response = client.get(reverse("pupil:login"), HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "en"
    text = _text(response)
    assert "Pupil sign-in" in text
    assert label_of(response.content.decode(), "username") == "Identifier *"


def test_accept_language_english_on_the_depannage_console(client_for, delegate, zoe, depannage_url):
    response = client_for(delegate).get(depannage_url, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert "Pupil account support" in _text(response)


def test_unsupported_language_falls_back_to_french(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Language"] == "fr"
    assert "Bienvenue sur Educompte" in _text(response)


# --- The footer's form ------------------------------------------------------------------


def test_language_form_is_labelled_and_carries_csrf_and_next(client):
    response = client.get(reverse("pupil:login") + "?next=/portail/")
    html = response.content.decode()
    form = _language_form(response)
    assert 'method="post"' in form
    assert f'action="{reverse("set_language")}"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    # The path only: the query string (here a ?next=) is not echoed into the page.
    assert 'name="next" value="/connexion/"' in form
    assert "/portail/" not in form
    assert label_of(html, "language") == "Langue"
    assert 'value="fr" lang="fr" selected>Français</option>' in form
    assert 'value="en" lang="en">English</option>' in form
    assert 'type="submit"' in form


def test_language_form_in_english(client):
    _switch_to_english(client)
    response = client.get("/")
    form = _language_form(response)
    assert label_of(response.content.decode(), "language") == "Language"
    assert 'value="en" lang="en" selected>English</option>' in form
    assert "Change language" in form


def test_language_form_works_with_csrf_checks_and_no_javascript():
    """What a browser without JavaScript does: read the form, post it back as it is."""
    client = new_client(enforce_csrf_checks=True)
    page = client.get(reverse("pupil:login"))
    form = _language_form(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', form).group(1)
    response = client.post(
        reverse("set_language"),
        {"csrfmiddlewaretoken": token, "language": "en", "next": next_url},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:login")
    assert "Pupil sign-in" in _text(client.get(response["Location"]))
