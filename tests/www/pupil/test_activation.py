"""The pupil's activation page: bad input, success, and wrong dates of birth throttled."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter
from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.helpers import (
    activate_through_the_web,
    assert_nowhere_in_audit,
    new_client,
    raw_ciphertext,
)
from tests.html_helpers import error_alerts

ZOE_BIRTH = "14/03/2011"
CHOSEN = "Une phrase de passe solide !"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


@pytest.mark.django_db
def test_reset_during_activation_voids_the_pending_activation(college, quick_delegate, zoe):
    account, provisional = zoe
    pupil = new_client()
    start = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start["Location"] == reverse("pupil:activate")
    services.reset_password(quick_delegate, fresh(account))
    response = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:login")
    assert fresh(account).state == AccountState.INFORMED
    assert not fresh(account).user.has_usable_password()


# --- Activation --------------------------------------------------------------------------


def _bad_activations(identifier: str) -> dict[str, tuple[dict, str]]:
    good = {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH}
    own = f"{identifier}-vacances"
    return {
        "wrong birth date": (
            {**good, "birth_date": "15/03/2011"},
            "La date de naissance ne correspond pas",
        ),
        "mismatch": ({**good, "new_password2": CHOSEN + "x"}, "ne sont pas identiques"),
        "too short": (
            {**good, "new_password1": "Ab3$xyz", "new_password2": "Ab3$xyz"},
            "trop court",
        ),
        "common azertyuiop": (
            {**good, "new_password1": "azertyuiop", "new_password2": "azertyuiop"},
            "trop courant",
        ),
        "common password123": (
            {**good, "new_password1": "password123", "new_password2": "password123"},
            "trop courant",
        ),
        "contains identifier": (
            {**good, "new_password1": own, "new_password2": own},
            "ni votre identifiant ni votre nom",
        ),
        "contains last name": (
            {
                **good,
                "new_password1": "vive-nguyen-lefevre!",
                "new_password2": "vive-nguyen-lefevre!",
            },
            "ni votre identifiant ni votre nom",
        ),
        "contains a part of the last name": (
            {
                **good,
                "new_password1": "jaime-lefevre-velo",
                "new_password2": "jaime-lefevre-velo",
            },
            "ni votre identifiant ni votre nom",
        ),
    }


BAD_CASES = list(_bad_activations("x"))


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_CASES)
def test_activation_rejects_bad_input_and_changes_nothing(zoe, case):
    account, provisional = zoe
    data, message = _bad_activations(account.identifier)[case]
    pupil = new_client()
    start = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start["Location"] == reverse("pupil:activate")
    before = raw_ciphertext(account)
    response = pupil.post(reverse("pupil:activate"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    after = fresh(account)
    assert after.state == AccountState.INFORMED
    assert after.activated_at is None
    assert not after.user.has_usable_password()
    assert raw_ciphertext(account) == before
    assert services.provisional_password(after) == provisional
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_ACTIVATED).exists()
    follow = pupil.get(reverse("pupil:services"))
    assert follow.status_code == 302  # not signed in


@pytest.mark.django_db
def test_successful_activation(zoe):
    account, provisional = zoe
    pupil = new_client()
    activate_through_the_web(pupil, account, provisional)
    after = fresh(account)
    assert after.state == AccountState.ACTIVE
    assert after.activated_at is not None
    assert after.user.password.startswith("argon2$argon2id$")
    assert "m=19456,t=2,p=1" in after.user.password
    assert after.provisional_password_encrypted is None
    assert services.provisional_password(after) is None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ACCOUNT_ACTIVATED, account=after
    ).exists()
    assert_nowhere_in_audit(provisional, CHOSEN)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.OK
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.FAILED


@pytest.mark.django_db
def test_activation_page_needs_a_provisional_sign_in_first():
    response = new_client().get(reverse("pupil:activate"))
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:login")


UTC = datetime.UTC
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 in Paris
MINUTE = datetime.timedelta(minutes=1)
WRONG = "AAAAAAAAAA"
HERE, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def freeze(monkeypatch, when: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: when)


def _far_expiry(account: StudentAccount) -> StudentAccount:
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


@pytest.fixture
def zoe(zoe):
    account, password = zoe
    return _far_expiry(account), password


def _sign_in(client, account, password):
    return client.post(
        reverse("pupil:login"),
        {"username": account.identifier, "password": password},
        REMOTE_ADDR=HERE,
    )


def _activation(client, birth: str, password: str = CHOSEN):
    return client.post(
        reverse("pupil:activate"),
        {"new_password1": password, "new_password2": password, "birth_date": birth},
        REMOTE_ADDR=HERE,
    )


def test_activation_page_locks_after_five_wrong_dates_and_ends_the_pending_activation(
    zoe, monkeypatch
):
    account, provisional = zoe
    freeze(monkeypatch, T0)
    attacker = new_client()
    assert _sign_in(attacker, account, provisional)["Location"] == reverse("pupil:activate")
    for day in range(1, 5):
        page = _activation(attacker, f"{day:02d}/01/2011")
        assert page.status_code == 400
        assert "La date de naissance ne correspond pas" in page.text
    fifth = _activation(attacker, "05/01/2011")
    assert fifth.status_code == 400
    alert = " ".join(error_alerts(fifth.text))
    assert "réessayez à partir du 15 janvier 2030 à 10:01" in alert.lower(), alert
    # The session's pending activation is gone: the right date gets nowhere.
    right = _activation(attacker, "14/03/2011")
    assert right.status_code == 302 and right["Location"] == reverse("pupil:login")
    assert attacker.get(reverse("pupil:activate"))["Location"] == reverse("pupil:login")
    # Nor does a new session: signing in again waits with the same message.
    again = _sign_in(new_client(), account, provisional)
    assert again.status_code == 400
    assert "réessayez à partir du 15 janvier 2030 à 10:01" in again.text.lower()
    assert fresh(account).state == AccountState.INFORMED
    assert not fresh(account).user.has_usable_password()

    # After the minute: one more wrong date waits two minutes, also in a new session.
    freeze(monkeypatch, T0 + MINUTE)
    later = new_client()
    assert _sign_in(later, account, provisional)["Location"] == reverse("pupil:activate")
    sixth = _activation(later, "06/01/2011")
    assert "réessayez à partir du 15 janvier 2030 à 10:03" in sixth.text.lower()


def test_wrong_dates_across_sessions_add_up(zoe, monkeypatch):
    account, provisional = zoe
    freeze(monkeypatch, T0)
    for tries in (2, 2):
        session = new_client()
        assert _sign_in(session, account, provisional)["Location"] == reverse("pupil:activate")
        for day in range(tries):
            assert _activation(session, f"{day + 1:02d}/02/2011").status_code == 400
    last = new_client()
    assert _sign_in(last, account, provisional)["Location"] == reverse("pupil:activate")
    fifth = _activation(last, "09/02/2011")
    assert "réessayez à partir du 15 janvier 2030 à 10:01" in fifth.text.lower()


def test_activation_page_of_a_locked_account_shows_the_wait(zoe, monkeypatch):
    """A session that reached the activation page before the account was locked (from the
    same address, e.g. a second tab guessing) cannot go on either."""
    account, provisional = zoe
    freeze(monkeypatch, T0)
    first = new_client()
    assert _sign_in(first, account, provisional)["Location"] == reverse("pupil:activate")
    for _ in range(throttling.FREE_FAILURES):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE)
    page = first.get(reverse("pupil:activate"), REMOTE_ADDR=HERE)
    assert page.status_code == 400
    assert "réessayez à partir du 15 janvier 2030 à 10:01" in page.text.lower()
    assert first.get(reverse("pupil:activate"))["Location"] == reverse("pupil:login")


def test_right_date_through_the_page_activates(zoe, monkeypatch):
    account, provisional = zoe
    freeze(monkeypatch, T0)
    pupil = new_client()
    _sign_in(pupil, account, provisional)
    assert _activation(pupil, "01/01/2011").status_code == 400
    done = _activation(pupil, "14/03/2011")
    assert done.status_code == 302 and done["Location"] == reverse("pupil:services")
    assert fresh(account).state == AccountState.ACTIVE
    assert not ThrottleCounter.objects.filter(user_id=account.user_id).exists()
