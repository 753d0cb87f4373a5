"""Staff find a pupil by identifier as well as by name (« nzoe893 » finds Zoé), in
Dépannage and Administration, only in their own establishment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from educompte.pupils import selectors
from tests.factories import make_pupil

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoe_and_others(college, lycee):
    zoe, _ = make_pupil(college, first_name="Zoé", last_name="Nguyen")
    other, _ = make_pupil(college, first_name="Zoé", last_name="Nadal")
    elsewhere, _ = make_pupil(lycee, first_name="Zoé", last_name="Noël")
    return zoe, other, elsewhere


def found(agent, establishment, query, right="depannage") -> list[str]:
    rows = selectors.search_pupils(
        agent, establishment, selectors.PupilFilters(query=query), right=right
    )
    return [s.identifier for s in rows]


def test_the_identifier_finds_its_pupil_only(quick_delegate, college, zoe_and_others):
    zoe, other, _ = zoe_and_others
    assert zoe.identifier != other.identifier
    assert found(quick_delegate, college, zoe.identifier) == [zoe.identifier]
    assert found(quick_delegate, college, f"  {zoe.identifier.upper()} ") == [zoe.identifier]
    # Names still work as before.
    assert sorted(found(quick_delegate, college, "zoe")) == sorted(
        [zoe.identifier, other.identifier]
    )


def test_an_identifier_of_another_establishment_finds_nobody(
    quick_delegate, college, zoe_and_others
):
    *_, elsewhere = zoe_and_others
    assert found(quick_delegate, college, elsewhere.identifier) == []


def test_depannage_page_finds_by_identifier(client_for, quick_delegate, college, zoe_and_others):
    zoe, other, _ = zoe_and_others
    url = reverse("depannage:pupils", args=[college.uai])
    text = client_for(quick_delegate).get(url, {"q": zoe.identifier}).content.decode()
    assert zoe.identifier in text
    assert other.identifier not in text


def test_administration_page_finds_by_identifier(
    verified_client_for, quick_head, college, zoe_and_others
):
    zoe, other, _ = zoe_and_others
    url = reverse("administration:pupils", args=[college.uai])
    text = verified_client_for(quick_head).get(url, {"q": zoe.identifier}).content.decode()
    assert zoe.identifier in text
    assert other.identifier not in text
