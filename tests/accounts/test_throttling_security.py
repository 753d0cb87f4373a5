"""Issue 11, items 4, 6 and 7, each attack reproduced and refused:

- 4. guessing the date of birth at activation is throttled like passwords (same counters);
- 6. requests to the recovery pages never lock a sign-in, and an address locked by failures
  still lets a right password of an account without failures in;
- 7. (every checked sign-in costs exactly one Argon2id run: tests/core/test_hashers.py).

The clock is controlled by ``now=`` for the services and by patching
``django.utils.timezone.now`` for the pages.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from educompte.accounts import throttling
from educompte.accounts.models import SignInFailure, ThrottleCounter
from educompte.accounts.services import sign_in_agent
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import AGENT_PASSWORD, AgentFactory, make_pupil

UTC = datetime.UTC
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 in Paris
SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(hours=24)
BIRTH = datetime.date(2011, 3, 14)
WRONG_BIRTH = datetime.date(2011, 3, 15)
WRONG = "AAAAAAAAAA"
CHOSEN = "Une phrase de passe solide !"
HERE, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def _far_expiry(account: StudentAccount) -> StudentAccount:
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


@pytest.fixture
def zoe(zoe):
    account, password = zoe
    return _far_expiry(account), password


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def wrong_birth(account, ip=HERE, now=T0):
    """A wrong date of birth with an acceptable new password, through the service."""
    services.activate(account, new_password=CHOSEN, birth_date=WRONG_BIRTH, ip=ip, now=now)


# --- The date of birth at activation ----------------------------------------------------


def test_fifth_wrong_date_of_birth_locks_the_activation(zoe):
    account, _provisional = zoe
    for _ in range(throttling.FREE_FAILURES - 1):
        with pytest.raises(ValidationError) as wrong:
            wrong_birth(account)
        assert "birth_date" in wrong.value.message_dict
    with pytest.raises(services.ActivationLocked) as locked:
        wrong_birth(account)
    assert locked.value.retry_at == T0 + MINUTE
    # Even the right date waits: it is not compared at all.
    with pytest.raises(services.ActivationLocked):
        services.activate(account, new_password=CHOSEN, birth_date=BIRTH, ip=HERE, now=T0)
    # From another address, the pupil goes on.
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH, ip=ELSEWHERE, now=T0)
    assert fresh(account).state == AccountState.ACTIVE


def test_wrong_dates_of_birth_grow_the_delays_like_passwords(zoe):
    account, provisional = zoe
    now = T0
    for _ in range(throttling.FREE_FAILURES - 1):
        with pytest.raises(ValidationError):
            wrong_birth(account, now=now)
    for minutes in (1, 2, 4, 8):
        with pytest.raises(services.ActivationLocked) as locked:
            wrong_birth(account, now=now)
        assert locked.value.retry_at == now + minutes * MINUTE
        # Signing in again with the provisional password waits as long, and once the wait
        # is over it does not wipe the wrong dates (whoever guesses holds that password).
        early = services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=now)
        assert early.outcome is SignIn.LOCKED and early.retry_at == locked.value.retry_at
        now = locked.value.retry_at
        again = services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=now)
        assert again.outcome is SignIn.ACTIVATE


def test_wrong_dates_of_birth_add_up_with_wrong_passwords(zoe):
    account, provisional = zoe
    for _ in range(2):
        with pytest.raises(ValidationError):
            wrong_birth(account)
    for _ in range(2):
        assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=T0).outcome is (
            SignIn.FAILED
        )
    fifth = services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=T0)
    assert fifth.outcome is SignIn.LOCKED and fifth.retry_at == T0 + MINUTE

    # And the other way round: wrong passwords first, then wrong dates.
    other, other_password = make_pupil(account.student.establishment, first_name="Hugo")
    other = _far_expiry(other)
    for _ in range(3):
        services.sign_in_pupil(other.identifier, WRONG, ip=HERE, now=T0)
    with pytest.raises(ValidationError):
        wrong_birth(other)
    with pytest.raises(services.ActivationLocked):
        wrong_birth(other)


def test_wrong_dates_of_birth_count_towards_the_daily_ceiling(zoe):
    account, provisional = zoe
    for i in range(24):
        with pytest.raises(ValidationError):
            wrong_birth(account, ip=f"192.0.2.{i + 1}", now=T0 + i * MINUTE)
    assert SignInFailure.objects.filter(user_id=account.user_id).count() == 24
    with pytest.raises(services.ActivationLocked) as locked:
        wrong_birth(account, ip="192.0.2.100", now=T0 + HOUR)
    assert locked.value.retry_at == T0 + DAY
    # Locked from every address, for sign-in too.
    result = services.sign_in_pupil(account.identifier, provisional, ip=ELSEWHERE, now=T0 + HOUR)
    assert result.outcome is SignIn.LOCKED and result.retry_at == T0 + DAY
    assert services.activation_locked_until(account, ip=ELSEWHERE, now=T0 + HOUR) == T0 + DAY


def test_the_right_date_clears_the_consecutive_failures(zoe):
    account, _provisional = zoe
    for _ in range(throttling.FREE_FAILURES - 1):
        with pytest.raises(ValidationError):
            wrong_birth(account)
    # The right date with a password refused by the rules: the date clears like a success.
    with pytest.raises(ValidationError) as refused:
        services.activate(account, new_password="azertyuiop", birth_date=BIRTH, ip=HERE, now=T0)
    assert set(refused.value.message_dict) == {"new_password1"}
    assert not ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()
    for _ in range(throttling.FREE_FAILURES - 1):
        with pytest.raises(ValidationError):
            wrong_birth(account)
    assert fresh(account).state == AccountState.INFORMED


def test_a_provisional_sign_in_still_clears_wrong_passwords(zoe):
    """Without wrong dates, a right provisional password clears as before."""
    account, provisional = zoe
    for _ in range(4):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=T0)
    assert services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=T0).outcome is (
        SignIn.ACTIVATE
    )
    assert not ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()


def _lock_the_address(settings, now=T0) -> None:
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    for i in range(5):
        services.sign_in_pupil(f"inconnu{i}", WRONG, ip=HERE, now=now)
    verdict = throttling.check(None, HERE, now)
    assert not verdict.allowed and verdict.reason == "address"


def test_a_locked_address_lets_a_right_password_of_an_account_without_failures_in(
    college, settings
):
    provisional_pupil, provisional = make_pupil(college, first_name="Hugo")
    provisional_pupil = _far_expiry(provisional_pupil)
    active, _ = make_pupil(college, first_name="Inès")
    services.activate(active, new_password=CHOSEN, birth_date=BIRTH)
    agent = AgentFactory(username="agent-adresse")
    _lock_the_address(settings)

    first = services.sign_in_pupil(provisional_pupil.identifier, provisional, ip=HERE, now=T0)
    assert first.outcome is SignIn.ACTIVATE
    assert services.sign_in_pupil(active.identifier, CHOSEN, ip=HERE, now=T0).outcome is SignIn.OK
    assert sign_in_agent(agent.username, AGENT_PASSWORD, ip=HERE, now=T0).agent == agent
    # Nothing written for them: they still have no failures.
    assert not ThrottleCounter.objects.filter(user__isnull=False).exists()


@pytest.mark.parametrize("who", ["pupil", "agent"])
def test_a_locked_address_counts_a_wrong_password_then_locks_that_account(college, settings, who):
    if who == "pupil":
        account, provisional = make_pupil(college, first_name="Hugo")
        account = _far_expiry(account)
        user_id = account.user_id

        def sign_in(password):
            result = services.sign_in_pupil(account.identifier, password, ip=HERE, now=T0)
            return result.outcome is SignIn.ACTIVATE, result.retry_at

        right = provisional
    else:
        agent = AgentFactory(username="agent-adresse")
        user_id = agent.pk

        def sign_in(password):
            result = sign_in_agent(agent.username, password, ip=HERE, now=T0)
            return result.agent is not None, result.retry_at

        right = AGENT_PASSWORD
    _lock_the_address(settings)
    address_count = ThrottleCounter.objects.get(key=f"address:{HERE}").count

    signed_in, retry_at = sign_in(WRONG)
    assert not signed_in and retry_at == T0 + HOUR
    # Counted: the pair, the day's failures and the address.
    assert ThrottleCounter.objects.filter(key=f"pair:u{user_id}:{HERE}", count=1).exists()
    assert SignInFailure.objects.filter(user_id=user_id).count() == 1
    assert ThrottleCounter.objects.get(key=f"address:{HERE}").count == address_count + 1
    # Now the account has failures: the address lock applies to it, right password or not.
    signed_in, retry_at = sign_in(right)
    assert not signed_in and retry_at == T0 + HOUR
    assert ThrottleCounter.objects.get(key=f"pair:u{user_id}:{HERE}").count == 1


def test_an_unknown_identifier_gets_the_same_answers_at_a_locked_address(college, settings):
    account, _provisional = make_pupil(college, first_name="Hugo")
    _far_expiry(account)
    _lock_the_address(settings)
    known = [
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=T0 + n * SECOND)
        for n in range(2)
    ]
    unknown = [
        services.sign_in_pupil("personne", WRONG, ip=HERE, now=T0 + n * SECOND) for n in range(2)
    ]
    assert [(r.outcome, r.retry_at) for r in known] == [(r.outcome, r.retry_at) for r in unknown]
    assert [r.outcome for r in known] == [SignIn.LOCKED, SignIn.LOCKED]


def test_failures_of_the_last_24_hours_elsewhere_keep_the_address_lock(college, settings):
    account, provisional = make_pupil(college, first_name="Hugo")
    account = _far_expiry(account)
    services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE, now=T0 - HOUR)
    _lock_the_address(settings)
    locked = services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=T0)
    assert locked.outcome is SignIn.LOCKED and locked.retry_at == T0 + HOUR

    # Failures older than the day's window are forgotten, as for the daily ceiling.
    later = T0 + DAY
    _lock_the_address(settings, now=later)
    ok = services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=later)
    assert ok.outcome is SignIn.ACTIVATE


def test_recovery_counter_keeps_the_signature_and_its_own_key(db):
    for _ in range(3):
        assert throttling.count_attempt(HERE, T0, limit=3).allowed
    refused = throttling.count_attempt(HERE, T0, limit=3)
    assert not refused.allowed and refused.retry_at == T0 + HOUR
    assert refused.reason == "recovery"
    assert ThrottleCounter.objects.get(key=f"recovery:{HERE}").kind == "recovery"
    assert not ThrottleCounter.objects.filter(key=f"address:{HERE}").exists()
    assert throttling.check(None, HERE, T0).allowed
