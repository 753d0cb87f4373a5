"""« Demander à mon établissement » for a pupil who lost the letter: name, first name and
date of birth instead of the identifier; the answer never tells whether it matched."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from educompte.pupils.models import SupportRequest
from tests.factories import DivisionFactory, make_pupil

pytestmark = pytest.mark.django_db
URL = "/connexion/demande-etablissement/"


@pytest.fixture
def zoe(college):
    account, _ = make_pupil(
        college,
        first_name="Zoé",
        last_name="N'Guyen",
        birth_date=datetime.date(2013, 3, 14),
        division=DivisionFactory(establishment=college, code="6A"),
    )
    return account


def test_the_form_offers_both_ways(client: Client):
    text = client.get(URL).content.decode()
    for label in ("Identifiant (si vous le connaissez)", "Nom", "Prénom", "Date de naissance"):
        assert label in text.replace("&#x27;", "'")
    assert 'autocomplete="bday"' in text


def test_a_request_without_the_identifier_reaches_the_school(client: Client, zoe):
    response = client.post(
        URL,
        {
            "last_name": "Nguyen",
            "first_name": "Zoé",
            "birth_date": "14/03/2013",
            "class_given": "6A",
        },
    )
    assert response.status_code == 200
    request = SupportRequest.objects.get()
    assert request.account == zoe
    assert request.establishment == zoe.student.establishment


def test_the_same_answer_when_nobody_matches(client: Client, zoe):
    known = client.post(
        URL,
        {
            "last_name": "Nguyen",
            "first_name": "Zoé",
            "birth_date": "14/03/2013",
            "class_given": "6A",
        },
    )
    unknown = client.post(
        URL,
        {
            "last_name": "Nguyen",
            "first_name": "Zoé",
            "birth_date": "15/03/2013",
            "class_given": "6A",
        },
    )
    assert unknown.status_code == known.status_code == 200
    assert unknown.templates[0].name == known.templates[0].name
    assert SupportRequest.objects.count() == 1


def test_without_identifier_the_three_details_are_required(client: Client, zoe):
    response = client.post(URL, {"last_name": "Nguyen", "class_given": "6A"})
    assert response.status_code == 400
    text = response.content.decode().replace("&#x27;", "'")
    assert "Indiquez votre prénom (ou votre identifiant)." in text
    assert "Indiquez votre date de naissance (ou votre identifiant)." in text
    assert not SupportRequest.objects.exists()
