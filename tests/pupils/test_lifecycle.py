"""The account lifecycle (educompte.pupils.lifecycle): every transition the table allows,
every one it refuses, and what each function writes."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from educompte.accounts.models import User
from educompte.core import crypto
from educompte.pupils import lifecycle, services
from educompte.pupils.lifecycle import (
    AccountActivated,
    AccountDeactivated,
    AccountExists,
    AccountNotDeactivated,
    Event,
    LifecycleError,
)
from educompte.pupils.models import AccountState, StudentAccount
from tests.factories import make_pupil

pytestmark = pytest.mark.django_db

NI, INF, ACT, DEA = (
    AccountState.NOT_INFORMED,
    AccountState.INFORMED,
    AccountState.ACTIVE,
    AccountState.DEACTIVATED,
)
STATES = [None, NI, INF, ACT, DEA]  # None: no account yet
CHOSEN = "Une phrase de passe solide !"

# The rules, written out again independently of the module: event -> {before: after}.
ALLOWED = {
    Event.CREATION: {None: NI},
    Event.LETTER: {NI: INF, INF: INF},
    Event.RENEWAL: {NI: NI, INF: INF},
    Event.ACTIVATION: {NI: ACT, INF: ACT},
    Event.RESET: {NI: INF, INF: INF, ACT: INF},
    Event.FORCED_CHANGE: {NI: NI, INF: NI, ACT: NI},
    Event.DEACTIVATION: {NI: DEA, INF: DEA, ACT: DEA},
    Event.REACTIVATION: {DEA: NI},
    Event.REGISTRY_REENTRY: {DEA: NI},
}


def refusal(event: Event, state: str | None) -> type[LifecycleError]:
    """The typed error each refused transition raises."""
    if event is Event.CREATION:
        return AccountExists
    if state is None:
        return LifecycleError
    if state == DEA:
        return AccountDeactivated
    if event in (Event.REACTIVATION, Event.REGISTRY_REENTRY):
        return AccountNotDeactivated
    assert state == ACT, (event, state)
    return AccountActivated


CASES = list(itertools.product(Event, STATES))


def test_the_table_covers_every_event():
    assert set(lifecycle.TRANSITIONS) == set(Event) == set(ALLOWED)


@pytest.mark.parametrize(("event", "state"), CASES, ids=[f"{e}-{s}" for e, s in CASES])
def test_every_transition_is_allowed_or_refused_with_its_typed_error(event, state):
    if state in ALLOWED[event]:
        assert lifecycle.allowed(event, state)
        assert lifecycle.target(event, state) == ALLOWED[event][state]
    else:
        assert not lifecycle.allowed(event, state)
        with pytest.raises(refusal(event, state)) as refused:
            lifecycle.target(event, state)
        assert type(refused.value) is refusal(event, state)
        assert (refused.value.event, refused.value.state) == (event, state)


def test_refusals_carry_the_users_message_translated_when_shown():
    error = AccountDeactivated(Event.RESET, DEA)
    assert isinstance(error, LifecycleError)
    with translation.override("fr"):
        assert str(error.message) == (
            "Ce compte est désactivé : son mot de passe ne peut pas être réinitialisé."
        )
    with translation.override("en"):
        assert "deactivated" in str(error.message).lower()
    # The services' name for it is the same class: the views catch it there.
    assert services.AccountDeactivated is AccountDeactivated


@pytest.mark.parametrize(("state", "events"), list(lifecycle.PATH_FROM_CREATION.items()))
def test_each_state_is_reached_from_creation_through_the_table(state, events):
    assert events[0] is Event.CREATION
    assert lifecycle.reached(events) == state


def test_a_path_the_table_refuses_is_refused():
    with pytest.raises(AccountNotDeactivated):
        lifecycle.reached([Event.CREATION, Event.REACTIVATION])
    with pytest.raises(AccountExists):
        lifecycle.reached([Event.CREATION, Event.CREATION])


# --- One account ----------------------------------------------------------------------------


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def pupil_in(college, state: str) -> StudentAccount:
    account, _password = make_pupil(college, state=state)
    return fresh(account)


ISSUING = {
    Event.RENEWAL: lifecycle.renew,
    Event.RESET: lifecycle.reset,
    Event.FORCED_CHANGE: lifecycle.force_change,
    Event.REACTIVATION: lifecycle.reactivate,
    Event.REGISTRY_REENTRY: lifecycle.reenter,
}
ISSUING_CASES = list(itertools.product(ISSUING, [NI, INF, ACT, DEA]))


@pytest.mark.parametrize(
    ("event", "state"), ISSUING_CASES, ids=[f"{e}-{s}" for e, s in ISSUING_CASES]
)
def test_functions_issuing_a_provisional_password(college, event, state):
    account = pupil_in(college, state)
    before = (account.provisional_password_encrypted, account.user.password)
    if state not in ALLOWED[event]:
        with pytest.raises(refusal(event, state)):
            ISSUING[event](account)
        after = fresh(account)
        assert after.state == state
        assert (after.provisional_password_encrypted, after.user.password) == before
        return
    password = ISSUING[event](account)
    after = fresh(account)
    assert after.state == account.state == ALLOWED[event][state]
    assert services.provisional_password(after) == password
    assert after.provisional_expires_at > after.provisional_issued_at
    assert after.provisional_password_encrypted != before[0]
    assert not after.user.has_usable_password()  # every session ends with the old hash
    if event in (Event.RESET, Event.FORCED_CHANGE, Event.REACTIVATION):
        assert after.activated_at is None


def test_reactivation_clears_the_departure(college):
    account = pupil_in(college, DEA)
    account.student.left_on = datetime.date(2026, 9, 1)
    account.student.save()
    lifecycle.reactivate(account)
    assert fresh(account).student.left_on is None


def test_a_reset_writes_the_account_once(college):
    account = pupil_in(college, ACT)
    with CaptureQueriesContext(connection) as queries:
        lifecycle.reset(account)
    table = StudentAccount._meta.db_table
    updates = [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{table}"')]
    assert len(updates) == 1


@pytest.mark.parametrize("state", [NI, INF, ACT, DEA])
def test_activation(college, state):
    account = pupil_in(college, state)
    if state not in ALLOWED[Event.ACTIVATION]:
        with pytest.raises(refusal(Event.ACTIVATION, state)):
            lifecycle.activate(account, new_password=CHOSEN)
        assert fresh(account).state == state
        assert not fresh(account).user.check_password(CHOSEN)
        return
    lifecycle.activate(account, new_password=CHOSEN)
    after = fresh(account)
    assert after.state == ACT and after.activated_at is not None
    assert after.provisional_password_encrypted is None
    assert services.provisional_password(after) is None
    assert after.user.check_password(CHOSEN)


def test_creation_gives_a_provisional_password_bound_to_the_login(college):
    account, password = lifecycle.create(
        college, last_name="Martin", first_name="Léa", birth_date=datetime.date(2012, 1, 2)
    )
    account = fresh(account)
    assert account.state == NI
    assert services.provisional_password(account) == password
    assert not account.user.has_usable_password()
    with pytest.raises(Exception):  # noqa: B017 - any decryption failure will do
        crypto.decrypt(
            account.provisional_password_encrypted,
            lifecycle.encryption_context(account.user_id + 1),
        )


# --- Many accounts --------------------------------------------------------------------------


def one_in_each_state(college) -> dict[str, StudentAccount]:
    names = {NI: "Ana", INF: "Bea", ACT: "Cid", DEA: "Dan"}
    return {
        state: fresh(make_pupil(college, first_name=names[state], state=state)[0])
        for state in (NI, INF, ACT, DEA)
    }


def test_deactivating_many_leaves_the_deactivated_out(college):
    accounts = one_in_each_state(college)
    versions = {s: a.user.session_version for s, a in accounts.items()}
    done = lifecycle.deactivate(list(accounts.values()))
    assert {a.pk for a in done} == {accounts[s].pk for s in (NI, INF, ACT)}
    for state, account in accounts.items():
        after = fresh(account)
        assert after.state == DEA
        bumped = 0 if state == DEA else 1
        assert after.user.session_version == versions[state] + bumped
        if state != DEA:
            assert after.provisional_password_encrypted is None
            assert after.provisional_expires_at is None


def test_marking_informed(college):
    accounts = one_in_each_state(college)
    lifecycle.mark_informed([accounts[NI], accounts[INF]])
    assert {fresh(accounts[s]).state for s in (NI, INF)} == {INF}
    assert accounts[NI].state == INF  # the objects follow
    for refused in (ACT, DEA):
        with pytest.raises(refusal(Event.LETTER, refused)):
            lifecycle.mark_informed([accounts[NI], accounts[refused]])
        assert fresh(accounts[refused]).state == refused


def test_activating_many_with_one_hash(college):
    accounts = one_in_each_state(college)
    hashed = User(password="")
    hashed.set_password(CHOSEN)
    lifecycle.activate_with_hash([accounts[NI], accounts[INF]], hashed.password)
    for state in (NI, INF):
        after = fresh(accounts[state])
        assert after.state == ACT and after.user.check_password(CHOSEN)
        assert after.provisional_password_encrypted is None and after.activated_at
    with pytest.raises(AccountDeactivated):
        lifecycle.activate_with_hash([accounts[DEA]], hashed.password)
    assert fresh(accounts[DEA]).state == DEA


def new_pupil(college, n: int, state: str = NI, **kwargs) -> lifecycle.NewPupil:
    return lifecycle.NewPupil(
        username=f"seed{n}",
        establishment_id=college.pk,
        first_name="Élise",
        last_name=f"Dupré{n}",
        birth_date=datetime.date(2012, 5, 6),
        state=state,
        **kwargs,
    )


def test_creating_many_in_each_state(college):
    hashed = User(password="")
    hashed.set_password(CHOSEN)
    pupils = [
        new_pupil(college, i, state, password_hash=hashed.password if state == ACT else None)
        for i, state in enumerate([NI, INF, ACT, DEA])
    ]
    created = lifecycle.create_many(pupils)
    assert len(created) == 4
    for pupil, ids in zip(pupils, created, strict=True):
        account = fresh(StudentAccount.objects.get(pk=ids.account_id))
        assert (account.student_id, account.user_id) == (ids.student_id, ids.user_id)
        assert account.state == pupil.state
        assert account.identifier == pupil.username
        assert account.student.search_name == f"dupre{pupils.index(pupil)} elise"
        if pupil.state in (NI, INF):
            assert len(services.provisional_password(account)) == 10
            assert not account.user.has_usable_password()
        else:
            assert account.provisional_password_encrypted is None
        if pupil.state == ACT:
            assert account.user.check_password(CHOSEN) and account.activated_at
        else:
            assert account.activated_at is None


def test_creating_many_activated_needs_a_hash(college):
    with pytest.raises(ValueError):
        lifecycle.create_many([new_pupil(college, 1, ACT)])
    assert not StudentAccount.objects.exists()
    assert lifecycle.create_many([]) == []
