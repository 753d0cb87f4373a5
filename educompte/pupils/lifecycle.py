"""The account lifecycle: every change of an account's state and every provisional
password issued, for one account or many, is declared and done here.

``TRANSITIONS`` is the table of what may happen to an account in which state; each event
has its function below (one account, and a bulk variant where a caller works on many),
which checks the table, writes the account and its login, ends what the old credentials
opened, and nothing else. Who may do it (``accounts.authz``), why (a reason) and the
audit trail stay with the callers: ``pupils.services`` (staff and pupils), the registry
import, the credential letters, the demo and the benchmark loader.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import random
import secrets
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from educompte.accounts.models import User
from educompte.core import bulk, crypto
from educompte.core.text import normalize
from educompte.pupils import identifiers, passwords
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.pupils.signals import credentials_revoked
from educompte.schools.models import Division, Establishment, Mef

NOT_INFORMED = AccountState.NOT_INFORMED
INFORMED = AccountState.INFORMED
ACTIVE = AccountState.ACTIVE
DEACTIVATED = AccountState.DEACTIVATED
LIVE = frozenset({NOT_INFORMED, INFORMED, ACTIVE})  # every state but "Désactivé"
WAITING = frozenset({NOT_INFORMED, INFORMED})  # a provisional password, not activated yet


class Event(enum.StrEnum):
    CREATION = "creation"  # a new pupil (import, factories, seeds)
    LETTER = "letter"  # credentials handed over on a letter
    RENEWAL = "renewal"  # an expired provisional password replaced before a letter
    ACTIVATION = "activation"  # the pupil chose a password
    RESET = "reset"  # staff gave a new provisional password, shown to them
    FORCED_CHANGE = "forced_change"  # administration: new credentials to hand out
    DEACTIVATION = "deactivation"  # staff (with a reason) or the registry (departed)
    REACTIVATION = "reactivation"  # staff, with a reason
    REGISTRY_REENTRY = "registry_reentry"  # back in the registry after having left


# Event -> {state before -> state after}; ``None`` is "no account yet". What is not here
# is refused (LifecycleError).
TRANSITIONS: Mapping[Event, Mapping[str | None, str]] = {
    Event.CREATION: {None: NOT_INFORMED},
    Event.LETTER: {NOT_INFORMED: INFORMED, INFORMED: INFORMED},
    Event.RENEWAL: {NOT_INFORMED: NOT_INFORMED, INFORMED: INFORMED},
    Event.ACTIVATION: {NOT_INFORMED: ACTIVE, INFORMED: ACTIVE},
    Event.RESET: {state: INFORMED for state in LIVE},
    Event.FORCED_CHANGE: {state: NOT_INFORMED for state in LIVE},
    Event.DEACTIVATION: {state: DEACTIVATED for state in LIVE},
    Event.REACTIVATION: {DEACTIVATED: NOT_INFORMED},
    Event.REGISTRY_REENTRY: {DEACTIVATED: NOT_INFORMED},
}

# The events that bring a new account to each state: what "create in state X" (the demo's
# and the benchmark's seeds) goes through, checked against the table like any other path.
PATH_FROM_CREATION: Mapping[str, tuple[Event, ...]] = {
    NOT_INFORMED: (Event.CREATION,),
    INFORMED: (Event.CREATION, Event.LETTER),
    ACTIVE: (Event.CREATION, Event.ACTIVATION),
    DEACTIVATED: (Event.CREATION, Event.DEACTIVATION),
}


# --- Refusals -------------------------------------------------------------------------------


class LifecycleError(Exception):
    """A transition the table refuses. ``message`` is what to tell the user (French,
    translated when shown)."""

    message = _("Cette action n'est pas possible dans l'état actuel du compte.")

    def __init__(self, event: Event, state: str | None, account: StudentAccount | None = None):
        super().__init__(f"{event} refused on an account in state {state}")
        self.event = event
        self.state = state
        self.account = account


class AccountDeactivated(LifecycleError):
    """The account is deactivated: no new password, letter or activation."""

    message = _("Ce compte est désactivé : son mot de passe ne peut pas être réinitialisé.")


class AccountActivated(LifecycleError):
    """The account is activated: its credentials are the pupil's own (letters leave it
    out, a second activation is refused)."""


class AccountNotDeactivated(LifecycleError):
    """Reactivation or re-entry of an account that is not deactivated."""


class AccountExists(LifecycleError):
    """Creation over an existing account."""


def _refusal(event: Event, state: str | None) -> type[LifecycleError]:
    if state is None or event is Event.CREATION:
        return AccountExists if state is not None else LifecycleError
    if state == DEACTIVATED:
        return AccountDeactivated
    if event in (Event.REACTIVATION, Event.REGISTRY_REENTRY):
        return AccountNotDeactivated
    if state == ACTIVE:
        return AccountActivated
    return LifecycleError


def allowed(event: Event, state: str | None) -> bool:
    return state in TRANSITIONS[event]


def target(event: Event, state: str | None, account: StudentAccount | None = None) -> str:
    """The state ``event`` leads to from ``state``; raises the typed refusal otherwise."""
    try:
        return TRANSITIONS[event][state]
    except KeyError:
        raise _refusal(event, state)(event, state, account) from None


def reached(events: Iterable[Event]) -> str:
    """The state a new account ends in after ``events`` (the first being CREATION)."""
    state: str | None = None
    for event in events:
        state = target(event, state)
    if state is None:
        raise ValueError("no event")
    return state


# --- Provisional passwords ------------------------------------------------------------------


def encryption_context(user_id: int) -> str:
    """Bound into the ciphertext: a provisional password only decrypts on its own account.
    The login's id is used (not the account's) so bulk creation can encrypt before the
    account row exists."""
    return f"pupil:{user_id}"


def expiry(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(days=settings.EDUCOMPTE_PROVISIONAL_PASSWORD_DAYS)


def unusable_password() -> str:
    """What make_password(None) makes ("!" and 40 random characters), from one call to the
    system's random source instead of forty."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _new_provisional(account: StudentAccount, now: datetime.datetime) -> str:
    """Set a fresh provisional password on the (unsaved) account; returns it in clear."""
    password = passwords.generate()
    account.provisional_password_encrypted = crypto.encrypt(
        password, encryption_context(account.user_id)
    )
    account.provisional_issued_at = now
    account.provisional_expires_at = expiry(now)
    return password


_PROVISIONAL_FIELDS = [
    "provisional_password_encrypted",
    "provisional_issued_at",
    "provisional_expires_at",
]


def _end_credentials(account: StudentAccount) -> None:
    """The previous provisional password and any chosen one stop working: Django ties
    sessions to the password hash, so a new unusable hash logs the pupil out everywhere
    on their next request."""
    account.user.set_unusable_password()
    account.user.save(update_fields=["password"])
    credentials_revoked.send(sender=StudentAccount, user_ids=[account.user_id])


def _issue(
    account: StudentAccount, event: Event, now: datetime.datetime | None, extra: list[str]
) -> str:
    """A new provisional password with the state ``event`` leads to, in one UPDATE of the
    account (``extra``: other fields the caller changed)."""
    account.state = target(event, account.state, account)
    password = _new_provisional(account, now or timezone.now())
    account.save(update_fields=["state", *_PROVISIONAL_FIELDS, *extra, "updated_at"])
    _end_credentials(account)
    return password


# --- One account ----------------------------------------------------------------------------


def _identifier_taken(candidate: str) -> bool:
    return User.objects.filter(username=candidate).exists()


@transaction.atomic
def create(
    establishment: Establishment,
    *,
    last_name: str,
    first_name: str,
    birth_date: datetime.date,
    division: Division | None = None,
    mef: Mef | None = None,
    ine: str | None = None,
    registry_id: str = "",
    rng: random.Random | None = None,
    now: datetime.datetime | None = None,
) -> tuple[StudentAccount, str]:
    """A pupil with an account "Non activé - non informé" and a provisional password,
    returned in clear for the caller to hand over."""
    state = target(Event.CREATION, None)
    student = Student.objects.create(
        establishment=establishment,
        last_name=last_name,
        first_name=first_name,
        birth_date=birth_date,
        division=division,
        mef=mef,
        ine=ine,
        registry_id=registry_id,
    )
    for _attempt in range(5):
        identifier = identifiers.generate(first_name, last_name, _identifier_taken, rng=rng)
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    identifier, kind=User.Kind.PUPIL, first_name=first_name, last_name=last_name
                )
            break
        except IntegrityError:  # another process took it between the check and the insert
            continue
    else:
        raise RuntimeError("could not allocate a unique identifier")
    account = StudentAccount(student=student, user=user, state=state)
    password = _new_provisional(account, now or timezone.now())
    account.save()
    return account, password


def renew(account: StudentAccount, *, now: datetime.datetime | None = None) -> str:
    """A fresh provisional password for an account not activated yet, its state kept
    (letters replace an expired one before printing it)."""
    return _issue(account, Event.RENEWAL, now, [])


def reset(account: StudentAccount, *, now: datetime.datetime | None = None) -> str:
    """Staff reset: a new provisional password, shown to the agent, hence "Non activé -
    informé"; the chosen password and every session end."""
    account.activated_at = None
    return _issue(account, Event.RESET, now, ["activated_at"])


def force_change(account: StudentAccount, *, now: datetime.datetime | None = None) -> str:
    """Administration's answer to a stolen account: new credentials to hand out ("Non
    activé - non informé"), every session ended."""
    account.activated_at = None
    return _issue(account, Event.FORCED_CHANGE, now, ["activated_at"])


def reactivate(account: StudentAccount, *, now: datetime.datetime | None = None) -> str:
    """A deactivated account back to "Non activé - non informé" with a new provisional
    password; the pupil is no longer marked as departed."""
    account.activated_at = None
    account.deactivated_by_staff = False
    password = _issue(account, Event.REACTIVATION, now, ["activated_at", "deactivated_by_staff"])
    if account.student.left_on:
        account.student.left_on = None
        account.student.save()
    return password


def reenter(account: StudentAccount, *, now: datetime.datetime | None = None) -> str:
    """A departed pupil listed again by the registry: fresh credentials (the import has
    already written the pupil's new data). Not for an account staff deactivated."""
    if account.deactivated_by_staff:
        raise AccountDeactivated(Event.REGISTRY_REENTRY, account.state, account)
    return _issue(account, Event.REGISTRY_REENTRY, now, [])


def activate(
    account: StudentAccount, *, new_password: str, now: datetime.datetime | None = None
) -> None:
    """The pupil's chosen password replaces the provisional one (already validated by the
    caller, with the date of birth)."""
    account.state = target(Event.ACTIVATION, account.state, account)
    account.user.set_password(new_password)
    account.user.save(update_fields=["password"])
    account.activated_at = now or timezone.now()
    account.provisional_password_encrypted = None
    account.provisional_expires_at = None
    account.save()


# --- Many accounts --------------------------------------------------------------------------


def mark_informed(accounts: Sequence[StudentAccount]) -> None:
    """Their credentials were handed over (letters): "Non activé - non informé" accounts
    become "Non activé - informé", in one UPDATE; the objects are updated too."""
    changing = []
    for account in accounts:
        new_state = target(Event.LETTER, account.state, account)
        if new_state != account.state:
            changing.append(account)
    if not changing:
        return
    StudentAccount.objects.filter(pk__in=[a.pk for a in changing], state=NOT_INFORMED).update(
        state=INFORMED, updated_at=timezone.now()
    )
    for account in changing:
        account.state = INFORMED


def deactivate(
    accounts: Sequence[StudentAccount], *, by_staff: bool = False
) -> list[StudentAccount]:
    """Sign-in refused, provisional password erased, sessions ended, in two bulk updates.
    Accounts already deactivated are left out; returns those deactivated now. ``by_staff``:
    a person decided it (with a reason), so the registry will not bring the account back.

    The chosen password's hash stays, so that the pupil who types it is told the account
    is deactivated (and nobody else learns anything)."""
    now = timezone.now()
    done = []
    for account in accounts:
        if account.state == DEACTIVATED:
            continue
        account.state = target(Event.DEACTIVATION, account.state, account)
        account.provisional_password_encrypted = None
        account.provisional_expires_at = None
        account.deactivated_by_staff = by_staff
        account.updated_at = now
        account.user.session_version += 1  # ends every session
        done.append(account)
    if done:
        StudentAccount.objects.bulk_update(
            done,
            [
                "state",
                "provisional_password_encrypted",
                "provisional_expires_at",
                "deactivated_by_staff",
                "updated_at",
            ],
        )
        User.objects.bulk_update([a.user for a in done], ["session_version"])
        credentials_revoked.send(sender=StudentAccount, user_ids=[a.user_id for a in done])
    return done


def activate_with_hash(
    accounts: Sequence[StudentAccount], password_hash: str, *, now: datetime.datetime | None = None
) -> None:
    """Seeds only (the demo): accounts activated with an already computed password hash,
    in two bulk updates (Argon2id is deliberately slow: one hash for them all)."""
    now = now or timezone.now()
    for account in accounts:
        account.state = target(Event.ACTIVATION, account.state, account)
        account.provisional_password_encrypted = None
        account.provisional_expires_at = None
        account.activated_at = now
        account.updated_at = now
        account.user.password = password_hash
    StudentAccount.objects.bulk_update(
        accounts,
        [
            "state",
            "provisional_password_encrypted",
            "provisional_expires_at",
            "activated_at",
            "updated_at",
        ],
    )
    User.objects.bulk_update([a.user for a in accounts], ["password"])


@dataclasses.dataclass(slots=True)
class NewPupil:
    """A pupil to create with its login and account (``create_many``)."""

    username: str
    establishment_id: int
    first_name: str
    last_name: str
    birth_date: datetime.date
    registry_id: str = ""
    ine: str | None = None
    division_id: int | None = None
    mef_id: int | None = None
    left_on: datetime.date | None = None
    # Normalised "last first" (the console searches it); computed when not given.
    search_name: str | None = None
    # The state to create the account in (seeds): reached through PATH_FROM_CREATION.
    state: str = NOT_INFORMED
    # The chosen password's hash, for an account created "Activé".
    password_hash: str | None = None


@dataclasses.dataclass(slots=True)
class Created:
    student_id: int
    user_id: int
    account_id: int


def user_row(pupil: NewPupil) -> dict:
    return {
        "username": pupil.username,
        "kind": User.Kind.PUPIL,
        "first_name": pupil.first_name[:150],
        "last_name": pupil.last_name[:150],
        "password": pupil.password_hash if pupil.state == ACTIVE else unusable_password(),
    }


def student_row(pupil: NewPupil) -> dict:
    search_name = pupil.search_name
    if search_name is None:
        search_name = normalize(f"{pupil.last_name} {pupil.first_name}")
    return {
        "establishment_id": pupil.establishment_id,
        "registry_id": pupil.registry_id[:32],
        "ine": pupil.ine,
        "last_name": pupil.last_name[:100],
        "first_name": pupil.first_name[:100],
        "birth_date": pupil.birth_date,
        "division_id": pupil.division_id,
        "mef_id": pupil.mef_id,
        "left_on": pupil.left_on,
        "search_name": search_name,
    }


def account_row(
    state: str, student_id: int, user_id: int, now: datetime.datetime, expires: datetime.datetime
) -> dict:
    """An account created in ``state``: a provisional password while not activated."""
    row: dict = {"student_id": student_id, "user_id": user_id, "state": state}
    if state in WAITING:
        row["provisional_password_encrypted"] = crypto.encrypt(
            passwords.generate(), encryption_context(user_id)
        )
        row["provisional_issued_at"] = now
        row["provisional_expires_at"] = expires
    elif state == ACTIVE:
        row["activated_at"] = now
    return row


def create_many(
    pupils: Sequence[NewPupil], *, now: datetime.datetime | None = None
) -> list[Created]:
    """Pupils with their logins and accounts in three bulk inserts (COPY on PostgreSQL,
    see core.bulk), in the caller's transaction. Accounts are "Non activé - non informé"
    unless a seed asks for another state (``NewPupil.state``), reached through the table
    like any account. Sends no signal: nothing existed before."""
    if not pupils:
        return []
    states: dict[str, str] = {}
    for pupil in pupils:
        if pupil.state not in states:
            states[pupil.state] = reached(PATH_FROM_CREATION[pupil.state])
        if pupil.state == ACTIVE and not pupil.password_hash:
            raise ValueError("an account created activated needs its password hash")
    now = now or timezone.now()
    expires = expiry(now)
    user_ids = bulk.insert(User, [user_row(p) for p in pupils])
    student_ids = bulk.insert(Student, [student_row(p) for p in pupils])
    account_ids = bulk.insert(
        StudentAccount,
        [
            account_row(states[p.state], student_id, user_id, now, expires)
            for p, student_id, user_id in zip(pupils, student_ids, user_ids, strict=True)
        ],
    )
    return [Created(s, u, a) for s, u, a in zip(student_ids, user_ids, account_ids, strict=True)]
