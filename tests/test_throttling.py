"""Sign-in throttling of pupils and staff, the per-address limit and the client address.

The clock is controlled by passing ``now=`` to the services, or by patching
``django.utils.timezone.now`` for the pages (which read the time themselves).
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.services import sign_in_agent
from educompte.audit.models import AuditEvent
from educompte.core.net import client_ip
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import AGENT_PASSWORD, make_delegate, make_pupil
from tests.helpers import new_client, signed_in
from tests.html_helpers import account_rows, error_alerts, table_headers

UTC = datetime.UTC
# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
MINUTE = datetime.timedelta(minutes=1)
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(hours=24)
HOUR = datetime.timedelta(hours=1)
WRONG = "AAAAAAAAAA"
CHOSEN = "Une phrase de passe solide !"
FLOODER, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def attempt(account: StudentAccount, password: str, ip: str, now: datetime.datetime):
    return services.sign_in_pupil(account.identifier, password, ip=ip, now=now)


def fail_until_locked(account, ip, now):
    """Wrong passwords from ``ip`` until the answer says to wait; returns that answer."""
    for _ in range(throttling.FREE_FAILURES):
        result = attempt(account, WRONG, ip, now)
        if result.outcome is SignIn.LOCKED:
            return result
    raise AssertionError("never locked")


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
        assert "réessayez à partir du 15 janvier 2030 10:01" in alert.lower(), alert

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
    assert "réessayez à partir du 16 janvier 2030 10:00" in page.text.lower()


# --- Staff lift the ceiling (Dépannage, "Débloquer") ----------------------------------------


def _block_for_real(account) -> None:
    """Reach the daily ceiling now (the console reads the real clock)."""
    for i in range(25):
        services.sign_in_pupil(account.identifier, WRONG, ip=f"192.0.2.{i + 1}")
    assert services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is (
        SignIn.LOCKED
    )


def test_unlock_by_a_delegated_agent_lifts_the_ceiling(college, quick_delegate, zoe):
    account, provisional = zoe
    _block_for_real(account)
    assert account.user_id in throttling.blocked_until([account.user_id])

    assert services.unlock(quick_delegate, college, [account.pk], ip="192.0.2.250") == 1
    assert throttling.blocked_until([account.user_id]) == {}
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_UNLOCKED)
    assert (event.actor, event.account, event.establishment) == (quick_delegate, account, college)
    assert event.ip_address == "192.0.2.250"
    for ip in (ELSEWHERE, "192.0.2.1"):
        assert services.sign_in_pupil(account.identifier, provisional, ip=ip).outcome is (
            SignIn.ACTIVATE
        )
    # Nothing left to unlock: no second event.
    assert services.unlock(quick_delegate, college, [account.pk]) == 0
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_UNLOCKED).count() == 1


def _state_cell(html: str, account) -> str:
    headers = table_headers(html)
    return account_rows(html)[account.pk][headers.index("État du compte")]


def test_debloquer_in_depannage(college, quick_delegate, zoe):
    account, provisional = zoe
    _block_for_real(account)
    staff = signed_in(quick_delegate)
    pupils_url = reverse("depannage:pupils", args=[college.uai])

    before = staff.get(pupils_url)
    assert before.status_code == 200
    assert "Bloqué jusqu'à" in _state_cell(before.text, account)
    assert "Débloquer" in _state_cell(before.text, account)

    response = staff.post(
        reverse("depannage:unlock", args=[college.uai, account.pk]), REMOTE_ADDR="192.0.2.251"
    )
    assert response.status_code == 302
    assert response["Location"] == pupils_url
    after = staff.get(pupils_url)
    assert "Bloqué jusqu'à" not in after.text
    assert "est débloqué" in after.text
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_UNLOCKED)
    assert (event.actor, event.account) == (quick_delegate, account)
    assert services.sign_in_pupil(account.identifier, provisional, ip=ELSEWHERE).outcome is (
        SignIn.ACTIVATE
    )


def test_agent_of_another_establishment_cannot_unlock(college, lycee, quick_other_head, zoe):
    account, _provisional = zoe
    _block_for_real(account)
    staff = signed_in(quick_other_head)
    refused = staff.post(reverse("depannage:unlock", args=[college.uai, account.pk]))
    assert refused.status_code == 403
    # Through their own establishment's URL, the college's pupil does not exist.
    assert staff.post(reverse("depannage:unlock", args=[lycee.uai, account.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        services.unlock(quick_other_head, college, [account.pk])
    assert services.unlock(quick_other_head, lycee, [account.pk]) == 0
    assert account.user_id in throttling.blocked_until([account.user_id])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_UNLOCKED).exists()


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
    assert "réessayez à partir du 15 janvier 2030 11:00" in page.text.lower()
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
        assert "Réessayez à partir du 15 janvier 2030 10:01" in page.text
    elsewhere = new_client().post(
        url, {"username": agent.username, "password": AGENT_PASSWORD}, REMOTE_ADDR=ELSEWHERE
    )
    assert elsewhere.status_code == 302
    assert elsewhere["Location"] == reverse("portal:index")


# --- The client address behind a reverse proxy ---------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No trusted proxy configured: the header is anyone's to forge.
        ([], "198.51.100.7", "1.2.3.4", "198.51.100.7"),
        ([], "10.0.0.2", "1.2.3.4, 5.6.7.8", "10.0.0.2"),
        # The peer is not the trusted proxy: header ignored.
        (["10.0.0.0/8"], "198.51.100.7", "1.2.3.4", "198.51.100.7"),
        # Behind the proxy: the right-most entry the proxy itself appended.
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 5.6.7.8", "5.6.7.8"),
        # A spoofed left-most entry changes nothing.
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.66, 5.6.7.8", "5.6.7.8"),
        # A chain of trusted proxies is skipped.
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 5.6.7.8, 10.0.0.3", "5.6.7.8"),
        (["10.0.0.2", "10.0.0.3"], "10.0.0.2", "5.6.7.8,10.0.0.3", "5.6.7.8"),
        # Nothing usable: the proxy's own address.
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "not-an-address", "10.0.0.2"),
        (["::1"], "::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.EDUCOMPTE_TRUSTED_PROXIES = proxies
    assert client_ip(_request(remote, forwarded)) == expected


def test_throttling_behind_the_proxy_counts_the_real_client(zoe, settings):
    """A client rotating forged left-most entries is still counted on its real address."""
    settings.EDUCOMPTE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    account, provisional = zoe
    url = reverse("pupil:login")
    # Zoé mistypes once through the proxy, then unknown identifiers flood the address.
    names = [account.identifier] + [f"inconnu{n}" for n in range(5)]
    for i, name in enumerate(names):
        new_client().post(
            url,
            {"username": name, "password": WRONG},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.18.0.{i}, {FLOODER}",
        )
    data = {"username": account.identifier, "password": provisional}
    refused = new_client().post(
        url, data, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"198.18.0.99, {FLOODER}"
    )
    assert refused.status_code == 400
    assert "réessayez à partir du" in refused.text.lower()
    # Another client behind the same proxy is not concerned.
    ok = new_client().post(url, data, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert ok.status_code == 302
