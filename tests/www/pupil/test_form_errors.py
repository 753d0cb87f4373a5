"""Pupil forms: an error summary at the top that takes the focus and links to each field;
password fields are the DSFR password component (« Afficher »). A typed password never
comes back in a page (tests/test_security.py), so an error empties them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.helpers import CHOSEN, ZOE_BIRTH, new_client

pytestmark = pytest.mark.django_db


def start_activation(zoe):
    account, provisional = zoe
    pupil = new_client()
    pupil.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    return pupil


def value_of(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
    found = re.search(r'value="([^"]*)"', tag)
    return found.group(1) if found else None


def test_a_wrong_date_of_birth_is_summarised_and_the_passwords_not_sent_back(zoe):
    pupil = start_activation(zoe)
    response = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": "15/03/2011"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    opening = re.search(r'<div[^>]*id="form-error-summary"[^>]*>', html).group(0)
    assert 'tabindex="-1"' in opening and "autofocus" in opening
    summary = html.split(opening, 1)[1].split("</div>", 1)[0]
    assert 'href="#id_birth_date"' in summary
    assert "Le formulaire contient 1 erreur" in summary
    assert value_of(html, "new_password1") is None
    assert CHOSEN not in html


def test_a_refused_password_is_emptied(zoe):
    pupil = start_activation(zoe)
    response = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": "azertyuiop", "new_password2": "azertyuiop", "birth_date": ZOE_BIRTH},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'href="#id_new_password1"' in html
    assert value_of(html, "new_password1") is None
    assert "azertyuiop" not in html


def test_password_fields_are_the_dsfr_password_component(zoe):
    html = start_activation(zoe).get(reverse("pupil:activate")).content.decode()
    assert html.count('class="fr-password"') == 2
    assert 'for="id_new_password1-show"' in html and ">Afficher</label>" in html
    assert 'class="fr-password__input fr-input"' in html


@pytest.mark.parametrize(
    ("url", "data", "field"),
    [
        ("pupil:forgot", {"query": ""}, "id_query"),
        ("pupil:ask_school", {"class_given": ""}, "id_class_given"),
    ],
)
def test_other_pupil_forms_have_the_summary(url, data, field):
    response = new_client().post(reverse(url), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="form-error-summary"' in html
    assert f'href="#{field}"' in html
