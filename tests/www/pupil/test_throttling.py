"""The pupil's sign-in and recovery pages under throttling."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import make_pupil
from tests.helpers import new_client
from tests.html_helpers import error_alerts

UTC = datetime.UTC


# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
WRONG = "AAAAAAAAAA"
FLOODER, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def attempt(account: StudentAccount, password: str, ip: str, now: datetime.datetime):
    return services.sign_in_pupil(account.identifier, password, ip=ip, now=now)


def freeze(monkeypatch, when: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: when)


def _far_expiry(account: StudentAccount) -> StudentAccount:
    """The tests' clock (2030) is far ahead: keep the provisional password valid until then."""
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    account.refresh_from_db()
    return account


@pytest.fixture
def zoe(zoe):
    account, password = zoe
    return _far_expiry(account), password


# --- The daily ceiling per account ---------------------------------------------------------


def _failures_from_many_addresses(account, count, start=T0):
    """``count`` wrong passwords, each from its own address (no per-address delay)."""
    results = []
    for i in range(count):
        results.append(attempt(account, WRONG, f"192.0.2.{i + 1}", start + i * MINUTE))
    return results


# --- The sign-in page says when to try again -----------------------------------------------


def test_sign_in_page_tells_the_pupil_when_to_try_again(zoe, monkeypatch):
    account, provisional = zoe
    freeze(monkeypatch, T0)
    pupil = new_client()
    url = reverse("pupil:login")
    data = {"username": account.identifier, "password": WRONG}
    for _ in range(4):
        page = pupil.post(url, data, REMOTE_ADDR=FLOODER)
        assert page.status_code == 400
        assert "Identifiant ou mot de passe incorrect" in " ".join(error_alerts(page.text))
    for password in (WRONG, provisional):  # the fifth failure, then the right password
        page = pupil.post(url, {**data, "password": password}, REMOTE_ADDR=FLOODER)
        assert page.status_code == 400
        alert = " ".join(error_alerts(page.text))
        assert "réessayez à partir du 15 janvier 2030 à 10:01" in alert.lower(), alert

    # From another address the pupil gets in at once.
    other = new_client().post(url, {**data, "password": provisional}, REMOTE_ADDR=ELSEWHERE)
    assert other.status_code == 302
    assert other["Location"] == reverse("pupil:activate")

    freeze(monkeypatch, T0 + MINUTE)
    done = pupil.post(url, {**data, "password": provisional}, REMOTE_ADDR=FLOODER)
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:activate")


def test_sign_in_page_shows_the_end_of_the_daily_lock(zoe, monkeypatch):
    account, provisional = zoe
    _failures_from_many_addresses(account, 25)
    freeze(monkeypatch, T0 + 2 * HOUR)
    page = new_client().post(
        reverse("pupil:login"),
        {"username": account.identifier, "password": provisional},
        REMOTE_ADDR=ELSEWHERE,
    )
    assert page.status_code == 400
    assert "réessayez à partir du 16 janvier 2030 à 10:00" in page.text.lower()


def test_address_limit_on_the_sign_in_page(college, zoe, settings, monkeypatch):
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    account, _provisional = zoe
    other, other_password = make_pupil(college, first_name="Hugo", last_name="Martin")
    _far_expiry(other)
    freeze(monkeypatch, T0)
    url = reverse("pupil:login")
    # Hugo mistyped once from there; then the address is flooded.
    new_client().post(url, {"username": other.identifier, "password": WRONG}, REMOTE_ADDR=FLOODER)
    for i in range(5):
        new_client().post(url, {"username": f"inconnu{i}", "password": WRONG}, REMOTE_ADDR=FLOODER)
    data = {"username": other.identifier, "password": other_password}
    page = new_client().post(url, data, REMOTE_ADDR=FLOODER)
    assert page.status_code == 400
    assert "réessayez à partir du 15 janvier 2030 à 11:00" in page.text.lower()
    elsewhere = new_client().post(url, data, REMOTE_ADDR=ELSEWHERE)
    assert elsewhere.status_code == 302
    # Zoé, who never failed, still signs in from the flooded address.
    zoe_page = new_client().post(
        url, {"username": account.identifier, "password": zoe[1]}, REMOTE_ADDR=FLOODER
    )
    assert zoe_page.status_code == 302
    assert zoe_page["Location"] == reverse("pupil:activate")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("pupil:forgot", {"query": "inconnu"}),
        ("pupil:ask_school", {"identifier": "inconnu", "class_given": "3A", "message": ""}),
    ],
)
def test_forgot_and_ask_school_answer_429_past_the_address_limit(db, name, data, settings):
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    url = reverse(name)
    client = new_client()
    for _ in range(5):
        assert client.post(url, data, REMOTE_ADDR=FLOODER).status_code == 200
    refused = client.post(url, data, REMOTE_ADDR=FLOODER)
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.text
    assert client.post(url, data, REMOTE_ADDR=ELSEWHERE).status_code == 200


def test_recovery_pages_and_sign_in_failures_are_counted_apart(college, zoe, settings, monkeypatch):
    """Requests to the recovery pages never lock a sign-in: two counters per address."""
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    freeze(monkeypatch, T0)
    account, _provisional = zoe
    other, other_password = make_pupil(college, first_name="Hugo", last_name="Martin")
    _far_expiry(other)
    client = new_client()
    forgot, ask_school = reverse("pupil:forgot"), reverse("pupil:ask_school")
    for _ in range(3):
        assert client.post(forgot, {"query": "x"}, REMOTE_ADDR=FLOODER).status_code == 200
    ask = {"identifier": account.identifier, "class_given": "3A"}
    for _ in range(2):
        assert client.post(ask_school, ask, REMOTE_ADDR=FLOODER).status_code == 200
    assert client.post(forgot, {"query": "x"}, REMOTE_ADDR=FLOODER).status_code == 429
    # Hugo fails four times from there: with the six recovery requests added, the address
    # would be past its limit of five failures; it is not.
    for _ in range(4):
        assert attempt(other, WRONG, FLOODER, T0).outcome is SignIn.FAILED
    assert throttling.check(None, FLOODER, T0).allowed
    assert attempt(other, other_password, FLOODER, T0).outcome is SignIn.ACTIVATE
    # The recovery pages stay refused: their own counter says so.
    assert client.post(forgot, {"query": "x"}, REMOTE_ADDR=FLOODER).status_code == 429
