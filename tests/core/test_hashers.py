"""Argon2id runs exactly once per sign-in attempt that reaches a password check, and never
for a refused one (issue 11): the cost does not tell identifiers apart."""

from __future__ import annotations

import datetime

import pytest

from educompte.accounts import throttling
from educompte.accounts.services import sign_in_agent
from educompte.core.hashers import Argon2idHasher
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import AGENT_PASSWORD, AgentFactory, make_pupil

UTC = datetime.UTC
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 in Paris
SECOND = datetime.timedelta(seconds=1)
BIRTH = datetime.date(2011, 3, 14)
WRONG = "AAAAAAAAAA"
CHOSEN = "Une phrase de passe solide !"
HERE, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def _far_expiry(account: StudentAccount) -> StudentAccount:
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- One Argon2id run per checked attempt --------------------------------------------------


@pytest.fixture
def argon2_runs(monkeypatch):
    """Counts every Argon2id computation (hash or verification) the configured hasher does."""
    runs = []
    encode, verify = Argon2idHasher.encode, Argon2idHasher.verify

    def counted_encode(self, password, salt):
        runs.append("encode")
        return encode(self, password, salt)

    def counted_verify(self, password, encoded):
        runs.append("verify")
        return verify(self, password, encoded)

    monkeypatch.setattr(Argon2idHasher, "encode", counted_encode)
    monkeypatch.setattr(Argon2idHasher, "verify", counted_verify)
    return runs


@pytest.fixture
def pupils_in_every_state(college):
    accounts = {}
    for state in ("activated", "provisional", "not informed", "expired", "deactivated"):
        account, provisional = make_pupil(college, first_name=state.title().replace(" ", ""))
        account = _far_expiry(account)
        accounts[state] = (account, provisional)
    for name in ("activated", "deactivated"):
        services.activate(accounts[name][0], new_password=CHOSEN, birth_date=BIRTH)
        accounts[name] = (fresh(accounts[name][0]), CHOSEN)
    StudentAccount.objects.filter(pk=accounts["deactivated"][0].pk).update(
        state=AccountState.DEACTIVATED
    )
    StudentAccount.objects.filter(pk=accounts["not informed"][0].pk).update(
        state=AccountState.NOT_INFORMED
    )
    StudentAccount.objects.filter(pk=accounts["expired"][0].pk).update(
        provisional_expires_at=T0 - SECOND
    )
    # Deactivated before activation: no chosen password, an unusable hash.
    never, provisional = make_pupil(college, first_name="Jamais")
    StudentAccount.objects.filter(pk=never.pk).update(state=AccountState.DEACTIVATED)
    accounts["deactivated, never activated"] = (never, provisional)
    return {name: (fresh(account), password) for name, (account, password) in accounts.items()}


EXPECTED_OUTCOME = {
    "activated": SignIn.OK,
    "provisional": SignIn.ACTIVATE,
    "not informed": SignIn.ACTIVATE,
    "expired": SignIn.EXPIRED,
    "deactivated": SignIn.DEACTIVATED,
    "deactivated, never activated": SignIn.FAILED,
}


def test_every_pupil_sign_in_costs_exactly_one_argon2id_run(pupils_in_every_state, argon2_runs):
    for n, (name, (account, password)) in enumerate(pupils_in_every_state.items()):
        ip = f"192.0.2.{n + 1}"
        for typed, expected in ((password, EXPECTED_OUTCOME[name]), (WRONG, SignIn.FAILED)):
            argon2_runs.clear()
            result = services.sign_in_pupil(account.identifier, typed, ip=ip, now=T0)
            assert result.outcome is expected, (name, typed)
            assert len(argon2_runs) == 1, (name, typed == password, argon2_runs)
    for typed in (WRONG, CHOSEN, ""):
        argon2_runs.clear()
        result = services.sign_in_pupil("personne-inconnue", typed, ip="192.0.2.100", now=T0)
        assert result.outcome is SignIn.FAILED
        assert len(argon2_runs) == 1, ("unknown", argon2_runs)
    # A right chosen password (the benchmarked path) is one verification and nothing else.
    argon2_runs.clear()
    activated, _ = pupils_in_every_state["activated"]
    services.sign_in_pupil(activated.identifier, CHOSEN, ip="192.0.2.200", now=T0)
    assert argon2_runs == ["verify"]


def test_a_refused_attempt_runs_no_argon2id_whether_the_identifier_exists_or_not(
    pupils_in_every_state, argon2_runs
):
    for name, (account, password) in pupils_in_every_state.items():
        for _ in range(throttling.FREE_FAILURES):
            services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=T0)
        argon2_runs.clear()
        assert services.sign_in_pupil(account.identifier, password, ip=HERE, now=T0).outcome is (
            SignIn.LOCKED
        ), name
        assert argon2_runs == [], name
    for _ in range(throttling.FREE_FAILURES):
        services.sign_in_pupil("personne-inconnue", WRONG, ip=ELSEWHERE, now=T0)
    argon2_runs.clear()
    assert services.sign_in_pupil("personne-inconnue", WRONG, ip=ELSEWHERE, now=T0).outcome is (
        SignIn.LOCKED
    )
    assert argon2_runs == []


def test_every_staff_sign_in_costs_exactly_one_argon2id_run(db, argon2_runs):
    agent = AgentFactory(username="agent-actif")
    AgentFactory(username="agent-parti", is_active=False)
    unusable = AgentFactory(username="agent-sans-mot-de-passe")
    unusable.set_unusable_password()
    unusable.save(update_fields=["password"])
    cases = [
        ("agent-actif", AGENT_PASSWORD, True),
        ("agent-actif", "mauvais", False),
        ("agent-parti", AGENT_PASSWORD, False),
        ("agent-sans-mot-de-passe", AGENT_PASSWORD, False),
        ("personne", AGENT_PASSWORD, False),
    ]
    for n, (login, password, right) in enumerate(cases):
        argon2_runs.clear()
        result = sign_in_agent(login, password, ip=f"192.0.2.{n + 1}", now=T0)
        assert (result.agent == agent) is right, login
        assert len(argon2_runs) == 1, (login, argon2_runs)
