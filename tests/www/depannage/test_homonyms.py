"""Two pupils with the same name are told apart wherever staff act on one: the date of
birth under the name in the row, in the reset dialog's details, on the confirmation page
and in the banner; the banner takes the focus after « Confirmer »."""

from __future__ import annotations

import datetime
import html

import pytest
from django.urls import reverse

from tests.factories import DivisionFactory, make_pupil
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(college):
    division = DivisionFactory(establishment=college, code="6B")
    first, _ = make_pupil(
        college,
        first_name="Léa",
        last_name="Martin",
        birth_date=datetime.date(2013, 1, 5),
        division=division,
    )
    second, _ = make_pupil(
        college,
        first_name="Léa",
        last_name="Martin",
        birth_date=datetime.date(2013, 9, 21),
        division=division,
    )
    return first, second


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_rows_and_the_dialog_tell_them_apart(quick_delegate, college, twins):
    page = text(signed_in(quick_delegate).get(reverse("depannage:pupils", args=[college.uai])))
    assert "Naissance : 05/01/2013" in page and "Naissance : 21/09/2013" in page
    assert 'data-details="6B — Naissance : 05/01/2013"' in page
    assert 'id="reset-modal-details"' in page


def test_the_confirmation_and_the_banner_name_the_date_of_birth(quick_delegate, college, twins):
    _first, second = twins
    client = signed_in(quick_delegate)
    url = reverse("depannage:reset", args=[college.uai, second.pk])
    assert "Naissance : 21/09/2013" in text(client.get(url))
    done = client.post(url, {"back": ""})
    page = text(client.get(done["Location"]))
    banner = page.split('id="reset-banner"', 1)[1].split("</div>", 1)[0]
    assert banner.startswith(' tabindex="-1" autofocus>')
    assert "Léa Martin</strong> (6B, naissance : 21/09/2013, identifiant" in banner
