"""Sign-in throttling of pupils and staff, the per-address limit and the client address.

The clock is controlled by passing ``now=`` to the services, or by patching
``django.utils.timezone.now`` for the pages (which read the time themselves).
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter
from educompte.accounts.services import sign_in_agent
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import AGENT_PASSWORD, AgentFactory, make_delegate, make_pupil

UTC = datetime.UTC


# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
MINUTE = datetime.timedelta(minutes=1)
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(hours=24)
HOUR = datetime.timedelta(hours=1)
WRONG = "AAAAAAAAAA"
CHOSEN = "Une phrase de passe solide !"
FLOODER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"


def attempt(account: StudentAccount, password: str, ip: str, now: datetime.datetime):
    return services.sign_in_pupil(account.identifier, password, ip=ip, now=now)


def fail_until_locked(account, ip, now):
    """Wrong passwords from ``ip`` until the answer says to wait; returns that answer."""
    for _ in range(throttling.FREE_FAILURES):
        result = attempt(account, WRONG, ip, now)
        if result.outcome is SignIn.LOCKED:
            return result
    raise AssertionError("never locked")


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


@pytest.fixture
def activated_zoe(zoe):
    account, _provisional = zoe
    services.activate(account, new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
    account.refresh_from_db()
    return account, CHOSEN


# --- Consecutive failures of one account from one address ---------------------------------


def test_delay_is_free_for_five_failures_then_one_two_four_minutes_up_to_an_hour():
    assert [throttling.delay_after(n) for n in range(5)] == [datetime.timedelta(0)] * 5
    assert [throttling.delay_after(n) for n in range(5, 11)] == [
        MINUTE * m for m in (1, 2, 4, 8, 16, 32)
    ]
    assert throttling.delay_after(11) == HOUR
    assert throttling.delay_after(40) == HOUR


def test_four_failures_then_the_right_password_still_works(zoe):
    account, provisional = zoe
    for _ in range(4):
        assert attempt(account, WRONG, FLOODER, T0).outcome is SignIn.FAILED
    assert attempt(account, provisional, FLOODER, T0).outcome is SignIn.ACTIVATE


def test_after_five_failures_the_next_attempt_waits_a_minute_even_with_the_right_password(zoe):
    account, provisional = zoe
    results = [attempt(account, WRONG, FLOODER, T0) for _ in range(5)]
    assert [r.outcome for r in results[:4]] == [SignIn.FAILED] * 4
    # The fifth wrong password was checked and counted; the answer already says to wait.
    assert results[4].outcome is SignIn.LOCKED
    assert results[4].retry_at == T0 + MINUTE

    sixth = attempt(account, provisional, FLOODER, T0 + 30 * SECOND)
    assert sixth.outcome is SignIn.LOCKED
    assert sixth.retry_at == T0 + MINUTE
    # Refused attempts do not count: the lock did not grow.
    assert attempt(account, provisional, FLOODER, T0 + MINUTE - SECOND).retry_at == T0 + MINUTE

    assert attempt(account, provisional, FLOODER, T0 + MINUTE).outcome is SignIn.ACTIVATE


def test_delays_grow_one_two_four_eight_minutes(zoe):
    account, _provisional = zoe
    first = fail_until_locked(account, FLOODER, T0)
    assert first.retry_at - T0 == MINUTE
    now = first.retry_at
    for minutes in (2, 4, 8, 16):
        # Just before the end of the lock: refused without being checked.
        early = attempt(account, WRONG, FLOODER, now - SECOND)
        assert early.outcome is SignIn.LOCKED and early.retry_at == now
        result = attempt(account, WRONG, FLOODER, now)
        assert result.outcome is SignIn.LOCKED
        assert result.retry_at - now == MINUTE * minutes
        now = result.retry_at


def test_success_after_the_delay_resets_the_consecutive_count(zoe):
    account, provisional = zoe
    fail_until_locked(account, FLOODER, T0)
    later = T0 + MINUTE
    assert attempt(account, provisional, FLOODER, later).outcome is SignIn.ACTIVATE
    # Five more failures are free again (a sixth failure would otherwise wait 2 minutes).
    for _ in range(4):
        assert attempt(account, WRONG, FLOODER, later).outcome is SignIn.FAILED
    fifth = attempt(account, WRONG, FLOODER, later)
    assert fifth.outcome is SignIn.LOCKED
    assert fifth.retry_at == later + MINUTE


def test_an_activated_account_is_throttled_the_same_way(activated_zoe):
    account, password = activated_zoe
    fail_until_locked(account, FLOODER, T0)
    assert attempt(account, password, FLOODER, T0).outcome is SignIn.LOCKED
    assert attempt(account, password, FLOODER, T0 + MINUTE).outcome is SignIn.OK


# --- A flood from one address does not lock the pupil out elsewhere ------------------------


def _ten_failures_from(account, ip) -> datetime.datetime:
    """Ten wrong passwords really checked from ``ip`` (waiting out each delay); returns the
    time of the last one, when ``ip`` is locked."""
    now, failures = T0, 0
    while failures < 10:
        result = attempt(account, WRONG, ip, now)
        assert result.outcome in (SignIn.FAILED, SignIn.LOCKED)
        failures += 1
        if result.outcome is SignIn.LOCKED:
            last, now = now, result.retry_at
        else:
            last = now
    assert throttling.check(account.user_id, ip, last).allowed is False
    return last


@pytest.mark.parametrize("state", ["provisional", "activated"])
def test_flood_from_one_address_does_not_lock_the_pupil_out_elsewhere(zoe, state):
    account, password = zoe
    if state == "activated":
        services.activate(account, new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
        account.refresh_from_db()
        password = CHOSEN
    last = _ten_failures_from(account, FLOODER)

    elsewhere = attempt(account, password, ELSEWHERE, last)
    assert elsewhere.outcome is (SignIn.ACTIVATE if state == "provisional" else SignIn.OK)
    # The flooding address itself still waits.
    assert attempt(account, password, FLOODER, last).outcome is SignIn.LOCKED


# --- The daily ceiling per account ---------------------------------------------------------


def _failures_from_many_addresses(account, count, start=T0):
    """``count`` wrong passwords, each from its own address (no per-address delay)."""
    results = []
    for i in range(count):
        results.append(attempt(account, WRONG, f"192.0.2.{i + 1}", start + i * MINUTE))
    return results


def test_the_25th_failure_in_24_hours_locks_the_account_from_every_address(zoe, settings):
    assert settings.EDUCOMPTE_SIGNIN_DAILY_CEILING == 25
    account, provisional = zoe
    results = _failures_from_many_addresses(account, 24)
    assert {r.outcome for r in results} == {SignIn.FAILED}
    # 24 failures: the pupil can still sign in (a success does not wipe the day's count).
    assert attempt(account, provisional, "192.0.2.200", T0 + HOUR).outcome is SignIn.ACTIVATE

    twenty_fifth = attempt(account, WRONG, "192.0.2.201", T0 + HOUR)
    assert twenty_fifth.outcome is SignIn.LOCKED
    assert twenty_fifth.retry_at == T0 + DAY  # the end of the window opened by the first one

    for ip in (ELSEWHERE, FLOODER, "192.0.2.1"):
        locked = attempt(account, provisional, ip, T0 + 2 * HOUR)
        assert locked.outcome is SignIn.LOCKED
        assert locked.retry_at == T0 + DAY
    assert attempt(account, provisional, ELSEWHERE, T0 + DAY - SECOND).outcome is SignIn.LOCKED
    assert attempt(account, provisional, ELSEWHERE, T0 + DAY).outcome is SignIn.ACTIVATE


def test_failures_older_than_the_window_do_not_count(zoe):
    account, provisional = zoe
    _failures_from_many_addresses(account, 24)
    later = T0 + DAY + MINUTE
    results = _failures_from_many_addresses(account, 5, start=later)
    assert {r.outcome for r in results} == {SignIn.FAILED}
    assert attempt(account, provisional, ELSEWHERE, later + HOUR).outcome is SignIn.ACTIVATE


def test_no_more_than_25_failures_are_checked_in_any_24_hours(zoe):
    """The ceiling holds for any 24 hours, not only for a window opened by a first failure:
    failures just before and just after the end of such a window add up."""
    account, _provisional = zoe
    checked = []

    def try_wrong(now, n):
        ip = f"198.18.{n // 250}.{n % 250 + 1}"  # a fresh address: no per-address delay
        if throttling.check(account.user_id, ip, now).allowed:
            attempt(account, WRONG, ip, now)
            checked.append(now)

    try_wrong(T0, 0)  # one failure opens the day
    start = T0 + DAY - 10 * MINUTE
    for n in range(1, 61):  # then one every 30 seconds for half an hour
        try_wrong(start + n * 30 * SECOND, n)
    worst = max(sum(1 for t in checked if first <= t < first + DAY) for first in checked)
    assert worst <= 25, f"{worst} wrong passwords checked within 24 hours"


# --- Per-address limit of the sign-in endpoints --------------------------------------------


def test_sixth_attempt_within_an_hour_from_one_address_is_refused(college, zoe, settings):
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    account, provisional = zoe
    other, other_password = make_pupil(college, first_name="Hugo", last_name="Martin")
    _far_expiry(other)
    identifiers = ["inconnu1", "inconnu2", other.identifier, "inconnu3", account.identifier]
    outcomes = [
        services.sign_in_pupil(identifier, WRONG, ip=FLOODER, now=T0 + i * MINUTE).outcome
        for i, identifier in enumerate(identifiers)
    ]
    # Five failures are checked (the fifth answer may already say to wait).
    assert outcomes[:4] == [SignIn.FAILED] * 4
    assert outcomes[4] in (SignIn.FAILED, SignIn.LOCKED)
    # The sixth attempt from that address is not even checked, right password or not.
    sixth = services.sign_in_pupil(
        other.identifier, other_password, ip=FLOODER, now=T0 + 10 * MINUTE
    )
    assert sixth.outcome is SignIn.LOCKED, "a sixth attempt was checked (limit is 5)"
    assert sixth.retry_at == T0 + HOUR
    # Another address is not concerned.
    assert attempt(account, provisional, ELSEWHERE, T0 + 10 * MINUTE).outcome is SignIn.ACTIVATE
    # Once the hour has passed, the address may try again.
    again = services.sign_in_pupil(other.identifier, other_password, ip=FLOODER, now=T0 + HOUR)
    assert again.outcome is SignIn.ACTIVATE


def test_address_limit_counts_failures_not_a_school_signing_in(college, zoe, settings):
    """A whole school behind one address signs in at 8 a.m.: successes are not counted."""
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    account, provisional = zoe
    for i in range(12):
        result = attempt(account, provisional, FLOODER, T0 + i * SECOND)
        assert result.outcome is SignIn.ACTIVATE, i


def test_crossing_the_address_limit_does_not_tell_known_identifiers_apart(college, settings):
    """At every step, a wrong password on an existing identifier gets the same answer as an
    identifier that does not exist, also on the attempt that reaches the address limit."""
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    known = [
        _far_expiry(make_pupil(college, first_name=first, last_name="Martin")[0])
        for first in ("Hugo", "Inès")
    ]
    unknown_answers, known_answers = [], []
    for step in range(8):
        now = T0 + step * SECOND
        unknown_answers.append(
            services.sign_in_pupil(f"inconnu{step}", WRONG, ip=FLOODER, now=now).outcome
        )
        # Two accounts in turn: neither reaches five consecutive failures of its own.
        identifier = known[step % 2].identifier
        known_answers.append(
            services.sign_in_pupil(identifier, WRONG, ip=ELSEWHERE, now=now).outcome
        )
    assert SignIn.LOCKED in unknown_answers
    assert known_answers == unknown_answers


# --- Staff sign-in ------------------------------------------------------------------------


@pytest.fixture
def agent(college):
    return make_delegate(college, username="vie-scolaire")


def test_staff_sign_in_is_throttled_like_the_pupils(agent):
    login = agent.username
    results = [sign_in_agent(login, "mauvais", ip=FLOODER, now=T0) for _ in range(5)]
    assert all(r.agent is None for r in results)
    assert [r.retry_at for r in results[:4]] == [None] * 4
    assert results[4].retry_at == T0 + MINUTE

    locked = sign_in_agent(login, AGENT_PASSWORD, ip=FLOODER, now=T0 + 30 * SECOND)
    assert locked.agent is None and locked.retry_at == T0 + MINUTE
    # Elsewhere, the right password works at once.
    assert sign_in_agent(login, AGENT_PASSWORD, ip=ELSEWHERE, now=T0).agent == agent
    # After the minute, from the same address; the next failure from there is free again.
    assert sign_in_agent(login, AGENT_PASSWORD, ip=FLOODER, now=T0 + MINUTE).agent == agent
    again = sign_in_agent(login, "mauvais", ip=FLOODER, now=T0 + MINUTE)
    assert again.agent is None and again.retry_at is None

    # Next failures from FLOODER: delays grow as for pupils.
    for _ in range(3):
        sign_in_agent(login, "mauvais", ip=FLOODER, now=T0 + MINUTE)
    locked = sign_in_agent(login, "mauvais", ip=FLOODER, now=T0 + MINUTE)
    assert locked.retry_at == T0 + 2 * MINUTE
    grown = sign_in_agent(login, "mauvais", ip=FLOODER, now=T0 + 2 * MINUTE)
    assert grown.retry_at == T0 + 4 * MINUTE


def test_staff_daily_ceiling_and_address_limit(agent, settings):
    for i in range(4):
        result = sign_in_agent(agent.username, "mauvais", ip=f"192.0.2.{i + 1}", now=T0)
        assert result.agent is None and result.retry_at is None
    # 20 more wrong passwords, counted as sign_in_agent does (Argon2 checks cost).
    for i in range(4, 24):
        assert throttling.record_failure(agent.pk, f"192.0.2.{i + 1}", T0).allowed
    ceiling = sign_in_agent(agent.username, "mauvais", ip="192.0.2.100", now=T0)
    assert ceiling.retry_at == T0 + DAY
    blocked = sign_in_agent(agent.username, AGENT_PASSWORD, ip=ELSEWHERE, now=T0 + HOUR)
    assert blocked.agent is None and blocked.retry_at == T0 + DAY
    assert sign_in_agent(agent.username, AGENT_PASSWORD, ip=ELSEWHERE, now=T0 + DAY).agent == agent

    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    later = T0 + 2 * DAY
    sign_in_agent(agent.username, "mauvais", ip="192.0.2.150", now=later)
    for i in range(5):  # failed sign-ins count against the address
        sign_in_agent(f"inconnu{i}", "mauvais", ip="192.0.2.150", now=later)
    # The agent failed from there: the address lock applies.
    refused = sign_in_agent(agent.username, AGENT_PASSWORD, ip="192.0.2.150", now=later)
    assert refused.agent is None and refused.retry_at == later + HOUR


HERE = "203.0.113.9"


# --- Sign-in: the pair counter and its DELETE -----------------------------------------------


def _throttle_deletes(queries) -> list[str]:
    table = ThrottleCounter._meta.db_table
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("DELETE") and table in q["sql"]
    ]


def _pair_exists(account, ip) -> bool:
    return ThrottleCounter.objects.filter(key=f"pair:u{account.user_id}:{ip}").exists()


def test_check_reports_failures_of_this_account_from_this_address(zoe, lycee):
    account, _password = zoe
    uid = account.user_id
    first = throttling.check(uid, HERE)
    assert first.allowed and not first.pair_failures
    assert first == throttling.ALLOWED

    assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    here = throttling.check(uid, HERE)
    assert here.allowed and here.pair_failures and here.retry_at is None
    # From another address: the account counter exists, but no failure of that pair.
    elsewhere = throttling.check(uid, ELSEWHERE)
    assert elsewhere.allowed and not elsewhere.pair_failures
    # Another account from the same address: the address counter only.
    other, _ = make_pupil(lycee, first_name="Lou", last_name="Martin")
    assert not throttling.check(other.user_id, HERE).pair_failures

    for _ in range(throttling.FREE_FAILURES - 1):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE)
    locked = throttling.check(uid, HERE)
    assert not locked.allowed
    assert locked.reason == "pair" and locked.retry_at > timezone.now()
    assert locked.pair_failures
    assert throttling.check(uid, ELSEWHERE).allowed

    # A lock that is over still counts as failures to clear.
    later = timezone.now() + datetime.timedelta(hours=2)
    over = throttling.check(uid, HERE, later)
    assert over.allowed and over.pair_failures


def test_check_of_an_unknown_name(db):
    assert not throttling.check(None, HERE, name="personne").pair_failures
    services.sign_in_pupil("personne", WRONG, ip=HERE)
    verdict = throttling.check(None, HERE, name="personne")
    assert verdict.allowed and verdict.pair_failures
    assert not throttling.check(None, HERE, name="quelquun").pair_failures


def test_a_right_password_clears_the_pair_counter(zoe):
    account, provisional = zoe
    for _ in range(3):
        assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE)
    assert _pair_exists(account, HERE)

    with CaptureQueriesContext(connection) as queries:
        right = services.sign_in_pupil(account.identifier, provisional, ip=HERE)
    assert right.outcome is SignIn.ACTIVATE
    assert len(_throttle_deletes(queries)) == 1
    assert not _pair_exists(account, HERE)
    # Only this address's consecutive failures: the other address and the daily count stay.
    assert _pair_exists(account, ELSEWHERE)
    assert ThrottleCounter.objects.filter(key=f"account:u{account.user_id}").exists()

    # Counting starts again from zero: four failures are free, the fifth locks.
    for _ in range(throttling.FREE_FAILURES - 1):
        assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    fifth = services.sign_in_pupil(account.identifier, WRONG, ip=HERE)
    assert fifth.outcome is SignIn.LOCKED
    # Whereas the other address had kept its failure: its fifth comes one earlier.
    for _ in range(throttling.FREE_FAILURES - 2):
        assert (
            services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is SignIn.FAILED
        )
    assert services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is (
        SignIn.LOCKED
    )


def test_a_right_password_after_the_lock_ended_clears_the_pair_counter(zoe):
    account, provisional = zoe
    now = timezone.now()
    for _ in range(throttling.FREE_FAILURES):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=now)
    later = now + datetime.timedelta(minutes=1)
    assert services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=later).outcome is (
        SignIn.ACTIVATE
    )
    assert not _pair_exists(account, HERE)
    for _ in range(throttling.FREE_FAILURES - 1):
        outcome = services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=later).outcome
        assert outcome is SignIn.FAILED


def test_a_sign_in_without_earlier_failures_deletes_nothing(zoe):
    account, provisional = zoe
    with CaptureQueriesContext(connection) as queries:
        result = services.sign_in_pupil(account.identifier, provisional, ip=HERE)
    assert result.outcome is SignIn.ACTIVATE
    assert _throttle_deletes(queries) == []
    assert not [q for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]

    # Failures from another address only: still nothing of this pair to delete.
    services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE)
    with CaptureQueriesContext(connection) as queries:
        assert services.sign_in_pupil(account.identifier, provisional, ip=HERE).outcome is (
            SignIn.ACTIVATE
        )
    assert _throttle_deletes(queries) == []
    assert _pair_exists(account, ELSEWHERE)


def test_record_success_without_a_verdict_still_deletes(zoe):
    account, _password = zoe
    throttling.record_failure(account.user_id, HERE)
    assert _pair_exists(account, HERE)
    throttling.record_success(account.user_id, HERE)
    assert not _pair_exists(account, HERE)
    throttling.record_failure(account.user_id, HERE)
    throttling.record_success(account.user_id, HERE, throttling.check(account.user_id, HERE))
    assert not _pair_exists(account, HERE)
    # A verdict that saw no failures of the pair skips the statement.
    throttling.record_failure(account.user_id, HERE)
    with CaptureQueriesContext(connection) as queries:
        throttling.record_success(account.user_id, HERE, throttling.ALLOWED)
    assert len(queries) == 0
    assert _pair_exists(account, HERE)


def test_staff_sign_in_clears_its_pair_counter_too(db):
    agent = AgentFactory(username="agent-signin")
    for _ in range(3):
        assert sign_in_agent("agent-signin", WRONG, ip=HERE).agent is None
    assert ThrottleCounter.objects.filter(key=f"pair:u{agent.pk}:{HERE}").exists()
    assert sign_in_agent("agent-signin", AGENT_PASSWORD, ip=HERE).agent == agent
    assert not ThrottleCounter.objects.filter(key=f"pair:u{agent.pk}:{HERE}").exists()
    with CaptureQueriesContext(connection) as queries:
        assert sign_in_agent("agent-signin", AGENT_PASSWORD, ip=HERE).agent == agent
    assert _throttle_deletes(queries) == []
    for _ in range(throttling.FREE_FAILURES - 1):
        assert sign_in_agent("agent-signin", WRONG, ip=HERE).retry_at is None
    assert sign_in_agent("agent-signin", WRONG, ip=HERE).retry_at is not None
