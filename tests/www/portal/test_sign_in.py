"""The staff sign-in page under throttling."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AGENT_PASSWORD, make_delegate
from tests.helpers import new_client

UTC = datetime.UTC


# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
FLOODER, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def freeze(monkeypatch, when: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: when)


# --- Staff sign-in ------------------------------------------------------------------------


@pytest.fixture
def agent(college):
    return make_delegate(college, username="vie-scolaire")


def test_staff_sign_in_page_tells_when_to_try_again(agent, monkeypatch):
    freeze(monkeypatch, T0)
    url = reverse("portal:login")
    staff = new_client()
    for _ in range(4):
        page = staff.post(url, {"username": agent.username, "password": "x"}, REMOTE_ADDR=FLOODER)
        assert page.status_code == 400
        assert "Identifiant ou mot de passe incorrect" in page.text
    for password in ("x", AGENT_PASSWORD):
        page = staff.post(
            url, {"username": agent.username, "password": password}, REMOTE_ADDR=FLOODER
        )
        assert page.status_code == 400
        assert "Réessayez à partir du 15 janvier 2030 à 10:01" in page.text
    elsewhere = new_client().post(
        url, {"username": agent.username, "password": AGENT_PASSWORD}, REMOTE_ADDR=ELSEWHERE
    )
    assert elsewhere.status_code == 302
    assert elsewhere["Location"] == reverse("portal:index")
