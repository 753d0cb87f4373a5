"""Throttled sign-in, for pupils and staff alike (CNIL: a 50-bit password is acceptable only
behind such a measure).

Three counters, all in the database so that every app process sees them:

- per account *and* address: after ``FREE_FAILURES`` consecutive failures, each further
  attempt from that address waits 1, 2, 4… minutes (at most an hour). Someone flooding a
  pupil's identifier from one address does not lock the pupil out elsewhere;
- per account: at most ``DAILY_CEILING`` failures in 24 hours from all addresses together;
  then the account is blocked until the window ends or staff lift it (Débloquer);
- per address: at most ``ADDRESS_LIMIT`` failed sign-ins an hour, against credential
  stuffing across many accounts. Failures, not attempts: a whole school signing in at 8 a.m.
  behind one address must not be refused (and the success path writes no shared row).
  A locked address still gets an attempt on an account without failures checked (none from
  this address since its last success here, none anywhere in 24 hours): a right password
  signs in, a wrong one is counted and the account then waits like the others. So flooding
  an address never locks out the people behind it who type their password right.

A wrong date of birth at activation is a failure of the account like a wrong password
(``record_birth_date_failure``); the provisional password does not clear it.

The recovery pages (« Mot de passe oublié », « Demander à mon établissement ») count their
requests per address in a counter of their own (``count_attempt``): however many there are,
they never lock a sign-in.

Every function takes ``now`` so tests control the clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from educompte.accounts.models import SignInFailure, ThrottleCounter, User
from educompte.core.sql import column, table

FREE_FAILURES = 5
MAX_DELAY = datetime.timedelta(hours=1)
DAY = datetime.timedelta(hours=24)
HOUR = datetime.timedelta(hours=1)


def daily_ceiling() -> int:
    return settings.EDUCOMPTE_SIGNIN_DAILY_CEILING


def address_limit() -> int:
    return settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT


@dataclasses.dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_at: datetime.datetime | None = None
    reason: str = ""  # "pair", "account", "address" or "recovery"
    # Whether check() saw failures of this account from this address, that a success must
    # clear; False spares the DELETE on nearly every sign-in.
    pair_failures: bool = False
    # Whether some of them are wrong dates of birth, which a provisional password must not
    # clear (see pupils.services.sign_in_pupil).
    birth_date_failures: bool = False


ALLOWED = Verdict(True)


def _counter(kind: str, key: str, now: datetime.datetime, user_id=None, ip=None) -> ThrottleCounter:
    counter, _created = ThrottleCounter.objects.select_for_update().get_or_create(
        key=key, defaults={"kind": kind, "user_id": user_id, "ip": ip or None, "window_start": now}
    )
    return counter


def _subject(user_id: int | None, name: str | None) -> str:
    """Who is counted: an account, or — for an identifier that does not exist — the typed
    name itself, with the same rules, so that no answer reveals which identifiers exist."""
    if user_id is not None:
        return f"u{user_id}"
    digest = hashlib.sha256((name or "").strip().lower().encode()).hexdigest()[:32]
    return f"n:{digest}"


def _pair_key(subject: str, ip: str) -> str:
    return f"pair:{subject}:{ip}"


def _account_key(subject: str) -> str:
    return f"account:{subject}"


def _address_key(ip: str) -> str:
    return f"address:{ip}"


def _recovery_key(ip: str) -> str:
    return f"recovery:{ip}"


def delay_after(failures: int) -> datetime.timedelta:
    """No wait for the first five consecutive failures, then 1, 2, 4… minutes (≤ 1 hour)."""
    if failures < FREE_FAILURES:
        return datetime.timedelta(0)
    return min(datetime.timedelta(minutes=2 ** (failures - FREE_FAILURES)), MAX_DELAY)


def check(
    user_id: int | None, ip: str, now: datetime.datetime | None = None, *, name: str | None = None
) -> Verdict:
    """May this attempt be checked at all? Reads only; counts nothing."""
    now = now or timezone.now()
    address_key = _address_key(ip)
    keys = [address_key]
    subject = pair_key = account_key = None
    if user_id is not None or name is not None:
        subject = _subject(user_id, name)
        pair_key, account_key = _pair_key(subject, ip), _account_key(subject)
        keys += [pair_key, account_key]
    rows = {
        key: (kind, until, birth)
        for key, kind, until, birth in ThrottleCounter.objects.filter(key__in=keys).values_list(
            "key", "kind", "locked_until", "birth_date_failures"
        )
    }
    pair_failures = pair_key in rows
    birth_date_failures = pair_failures and rows[pair_key][2] > 0
    locks = sorted(
        (until, kind, key) for key, (kind, until, _b) in rows.items() if until and until > now
    )
    if locks:
        only_address = all(key == address_key for _until, _kind, key in locks)
        if (
            only_address
            and subject is not None
            and not pair_failures
            and (account_key not in rows or not _failed_lately(subject, now))
        ):
            return ALLOWED  # an account without failures is checked despite its address
        latest, reason, _key = locks[-1]
        return Verdict(False, latest, reason, pair_failures, birth_date_failures)
    if pair_failures:
        return Verdict(True, pair_failures=True, birth_date_failures=birth_date_failures)
    return ALLOWED


def _failed_lately(subject: str, now: datetime.datetime) -> bool:
    """Whether the account has failed within the daily window (read only when its address
    is locked, so never on an ordinary sign-in)."""
    return SignInFailure.objects.filter(subject=subject, at__gt=now - DAY).exists()


def _count_address_failure(ip: str, now: datetime.datetime) -> Verdict:
    """Failures are counted after the check: the limit-th failure already locks, so at most
    ``ADDRESS_LIMIT`` wrong passwords an hour are ever checked from one address (besides
    one per account without failures, see ``check``)."""
    if not ip:
        return ALLOWED
    return _count_request(
        ThrottleCounter.Kind.ADDRESS, _address_key(ip), ip, now, address_limit() - 1
    )


def record_unknown_failure(
    ip: str, now: datetime.datetime | None = None, *, name: str = ""
) -> Verdict:
    """A sign-in with an identifier that does not exist counts exactly like a wrong password
    (per name and address, per name, per address)."""
    return record_failure(None, ip, now, name=name)


def _count_request(kind: str, key: str, ip: str, now: datetime.datetime, limit: int) -> Verdict:
    """Count one event of an address in the current hour; over ``limit``, refuse until the
    hour ends."""
    counter = _counter(kind, key, now, ip=ip)
    if counter.window_start + HOUR <= now:
        counter.window_start, counter.count, counter.locked_until = now, 0, None
    counter.count += 1
    if counter.count > limit:
        counter.locked_until = counter.window_start + HOUR
    counter.save()
    if counter.locked_until and counter.locked_until > now:
        return Verdict(False, counter.locked_until, kind)
    return ALLOWED


@transaction.atomic
def count_attempt(
    ip: str, now: datetime.datetime | None = None, *, limit: int | None = None
) -> Verdict:
    """Count one request to the recovery pages from an address; over the hourly limit
    (``EDUCOMPTE_SIGNIN_ADDRESS_LIMIT`` by default), refuse them for the hour. A counter of
    its own: it never locks a sign-in from that address."""
    now = now or timezone.now()
    limit = address_limit() if limit is None else limit
    return _count_request(ThrottleCounter.Kind.RECOVERY, _recovery_key(ip), ip, now, limit)


def record_failure(
    user_id: int | None, ip: str, now: datetime.datetime | None = None, *, name: str | None = None
) -> Verdict:
    """Count a wrong password; say when the next attempt may come if it must wait."""
    return _record_failure(user_id, ip, now, name=name)


def record_birth_date_failure(
    user_id: int, ip: str, now: datetime.datetime | None = None
) -> Verdict:
    """Count a wrong date of birth at activation: a failure of the account from this
    address, exactly like a wrong password, that only the right date clears."""
    return _record_failure(user_id, ip, now, birth_date=True)


@transaction.atomic
def _record_failure(
    user_id: int | None,
    ip: str,
    now: datetime.datetime | None = None,
    *,
    name: str | None = None,
    birth_date: bool = False,
) -> Verdict:
    now = now or timezone.now()
    subject = _subject(user_id, name)
    pair = _counter(ThrottleCounter.Kind.PAIR, _pair_key(subject, ip), now, user_id, ip)
    pair.count += 1
    if birth_date:
        pair.birth_date_failures += 1
    delay = delay_after(pair.count)
    pair.locked_until = now + delay if delay else None
    pair.save()

    address = _count_address_failure(ip, now)

    # Daily ceiling over a sliding 24-hour window.
    account = _counter(ThrottleCounter.Kind.ACCOUNT, _account_key(subject), now, user_id)
    SignInFailure.objects.filter(subject=subject, at__lte=now - DAY).delete()
    SignInFailure.objects.create(subject=subject, user_id=user_id, at=now)
    recent = list(
        SignInFailure.objects.filter(subject=subject, at__gt=now - DAY)
        .order_by("-at")
        .values_list("at", flat=True)[: daily_ceiling()]
    )
    account.count = len(recent)
    if len(recent) >= daily_ceiling():
        # Blocked until the oldest of the last `ceiling` failures leaves the window.
        account.locked_until = recent[-1] + DAY
    account.save()

    verdicts = [
        v
        for v in (
            Verdict(False, pair.locked_until, "pair") if pair.locked_until else None,
            Verdict(False, account.locked_until, "account")
            if account.locked_until and account.locked_until > now
            else None,
            address if not address.allowed else None,
        )
        if v
    ]
    return max(verdicts, key=lambda v: v.retry_at) if verdicts else ALLOWED


def record_success(user_id: int, ip: str, verdict: Verdict | None = None) -> None:
    """A right password from this address: its consecutive failures start again from zero.

    Nothing to do when ``verdict`` (this attempt's check) saw no such failures — the usual
    case; otherwise one plain statement (no cascade to collect, no transaction of its own).
    A failure counted by a concurrent attempt in between stays: the next success clears it."""
    if verdict is not None and not verdict.pair_failures:
        return
    where = column(ThrottleCounter, "key")
    sql = f"DELETE FROM {table(ThrottleCounter)} WHERE {where} = %s"  # noqa: S608 - model names
    with connection.cursor() as cursor:
        cursor.execute(sql, [_pair_key(_subject(user_id, None), ip)])


def lift(user_ids: list[int]) -> int:
    """Staff unblock: clear every lock and counter of these accounts."""
    SignInFailure.objects.filter(subject__in=[_subject(u, None) for u in user_ids]).delete()
    deleted, _ = ThrottleCounter.objects.filter(user_id__in=user_ids).delete()
    return deleted


def locked_until(user_id: OuterRef, now: datetime.datetime | None = None) -> Subquery:
    """The latest lock of an account (from any address) as a subquery, for listing
    queries: the same answer as ``blocked_until`` without a query of its own."""
    latest = (
        ThrottleCounter.objects.filter(user_id=user_id, locked_until__gt=now or timezone.now())
        .order_by("-locked_until")
        .values("locked_until")[:1]
    )
    return Subquery(latest)


def blocked_until(
    user_ids: list[int], now: datetime.datetime | None = None
) -> dict[int, datetime.datetime]:
    """Latest lock per account (from any address), for the consoles."""
    now = now or timezone.now()
    rows = (
        ThrottleCounter.objects.filter(user_id__in=user_ids, locked_until__gt=now)
        .values("user_id")
        .annotate(until=Max("locked_until"))
    )
    return {row["user_id"]: row["until"] for row in rows}


class TooManyAttempts(Exception):
    """Too many wrong current passwords: the sign-in throttling says when to retry."""

    def __init__(self, retry_at: datetime.datetime | None) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


def check_current_password(user: User, password: str, *, ip: str) -> None:
    """The current password, asked before a change in « Mon compte » (pupils and staff),
    behind the sign-in counters: a session left open must not become a way to guess it.
    Raises ``TooManyAttempts`` or a ValidationError on ``current_password``.

    Not inside a transaction: a failure must stay counted when the caller gives up."""
    verdict = check(user.pk, ip)
    if not verdict.allowed:
        raise TooManyAttempts(verdict.retry_at)
    if not user.check_password(password):
        after = record_failure(user.pk, ip)
        if not after.allowed:
            raise TooManyAttempts(after.retry_at)
        raise ValidationError({"current_password": [_("Mot de passe actuel incorrect.")]})
    record_success(user.pk, ip, verdict)
