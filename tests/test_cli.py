"""The ``educompte`` operator command: through ``call_command`` and as a real program."""

from __future__ import annotations

import datetime
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right, User
from educompte.accounts.services import one_year_after
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.schools.models import Division, Establishment, Mef
from educompte.schools.uai import check_letter
from tests.factories import AgentFactory, EstablishmentFactory

STRONG = "Motdepasse-solide-2026"
EDUCOMPTE = Path(sys.executable).with_name("educompte")


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


@pytest.fixture
def stdin(monkeypatch):
    """Feed the command's standard input (never a terminal here)."""

    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    feed("")
    return feed


# --- add-establishment -------------------------------------------------------------------


@pytest.mark.django_db
def test_add_establishment():
    output = run("add_establishment", "0380001v", "Collège Jean Moulin")
    assert "0380001V" in output
    est = Establishment.objects.get()
    assert (est.uai, est.name) == ("0380001V", "Collège Jean Moulin")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ESTABLISHMENT_CREATED, establishment=est
    ).exists()


@pytest.mark.django_db
def test_add_establishment_with_a_wrong_check_letter():
    with pytest.raises(CommandError) as exc:
        run("add_establishment", "0380001A", "Collège")
    message = str(exc.value)
    assert "lettre de contrôle" in message
    assert "V" in message.split("lettre de contrôle")[1]  # tells the right letter
    assert not Establishment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("uai", ["038001V", "0380001", "ABCDEFGH", ""])
def test_add_establishment_with_a_malformed_uai(uai):
    with pytest.raises(CommandError, match="7 chiffres"):
        run("add_establishment", uai, "Collège")
    assert not Establishment.objects.exists()


@pytest.mark.django_db
def test_add_establishment_twice(college):
    with pytest.raises(CommandError, match="already exists"):
        run("add_establishment", "0380001V", "Autre nom")
    assert Establishment.objects.get().name == "Collège Jean Moulin"


# --- add-agent ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_head_with_password_on_stdin(college, stdin):
    stdin(STRONG + "\n")
    output = run(
        "add_agent", "M.Dupont", uai="0380001v", role="head", password_stdin=True,
        first_name="Marie", last_name="Dupont",
    )  # fmt: skip
    assert "m.dupont" in output
    agent = User.objects.get(username="m.dupont")
    assert agent.is_agent
    assert agent.check_password(STRONG)
    assert agent.password.startswith("argon2$argon2id$")
    assert (agent.first_name, agent.last_name) == ("Marie", "Dupont")
    assert Assignment.objects.filter(
        agent=agent, establishment=college, role=Assignment.Role.HEAD
    ).exists()
    assert authz.is_head(agent, college)


@pytest.mark.django_db
def test_add_staff_without_password(college, stdin):
    output = run("add_agent", "c.fabre", uai="0380001V", role="staff")
    agent = User.objects.get(username="c.fabre")
    assert not agent.has_usable_password()
    assert "no password" in output
    assert Assignment.objects.filter(agent=agent, role=Assignment.Role.STAFF).exists()
    assert authz.grants(agent) == {}  # staff alone holds no right


@pytest.mark.django_db
def test_add_academy_administrator(stdin):
    stdin(STRONG + "\n")
    run("add_agent", "rectorat", role="academy", password_stdin=True)
    agent = User.objects.get(username="rectorat")
    assert agent.is_academy_admin
    assert not Assignment.objects.filter(agent=agent).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uai": "0380009Z", "role": "head"}, "unknown establishment"),
        ({"role": "head"}, "--uai is required"),
        ({"role": "staff"}, "--uai is required"),
    ],
)
def test_add_agent_errors(college, stdin, kwargs, message):
    with pytest.raises(CommandError, match=message):
        run("add_agent", "x.agent", **kwargs)
    assert not User.objects.filter(username="x.agent").exists()


@pytest.mark.django_db
def test_add_agent_refuses_a_weak_password(college, stdin):
    stdin("azertyuiop\n")
    with pytest.raises(CommandError, match="password refused"):
        run("add_agent", "x.agent", uai="0380001V", role="head", password_stdin=True)
    assert not User.objects.filter(username="x.agent").exists()


@pytest.mark.django_db
def test_add_agent_refuses_a_pupil_identifier_and_bad_logins(college, zoe, stdin):
    account, _pw = zoe
    with pytest.raises(CommandError, match="pupil identifier"):
        run("add_agent", account.identifier, uai="0380001V", role="head")
    assert not account.user.__class__.objects.get(pk=account.user.pk).is_agent
    for login in ("a b", "x", "é.accent"):
        with pytest.raises(CommandError, match="invalid login"):
            run("add_agent", login, uai="0380001V", role="staff")


# --- delegate ----------------------------------------------------------------------------


@pytest.fixture
def staff(college):
    agent = AgentFactory(username="c.fabre", quick=True)
    Assignment.objects.create(agent=agent, establishment=college, role=Assignment.Role.STAFF)
    return agent


def _until(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.mark.django_db
def test_delegate(college, staff):
    end = _until(30)
    output = run("delegate", "C.Fabre", uai="0380001v", right="depannage", until=end)
    assert end in output
    delegation = Delegation.objects.get(agent=staff)
    assert (delegation.establishment, delegation.right) == (college, Right.DEPANNAGE)
    assert delegation.end.isoformat() == end
    assert authz.has_right(staff, Right.DEPANNAGE, college)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELEGATION_GRANTED).exists()


@pytest.mark.django_db
def test_delegation_of_exactly_one_year_is_accepted(college, staff):
    end = one_year_after(timezone.localdate()).isoformat()
    run("delegate", "c.fabre", uai="0380001V", right="administration", until=end)
    assert Delegation.objects.get(agent=staff).end.isoformat() == end


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("login", "uai", "until", "message"),
    [
        ("inconnu", "0380001V", _until(30), "unknown agent"),
        ("c.fabre", "0380001V", _until(-1), "in the past"),
        ("c.fabre", "0380001V", "2026-02-30", "not a date"),
        ("c.fabre", "0380001V", "31/08/2027", "not a date"),
        ("c.fabre", "0380001V", _until(367), "at most one year"),
        ("c.fabre", "0380009Z", _until(30), "unknown establishment"),
    ],
)
def test_delegate_errors(college, staff, login, uai, until, message):
    with pytest.raises(CommandError, match=message):
        run("delegate", login, uai=uai, right="depannage", until=until)
    assert not Delegation.objects.exists()


@pytest.mark.django_db
def test_delegate_to_a_pupil_is_refused(college, zoe):
    account, _pw = zoe
    with pytest.raises(CommandError, match="unknown agent"):
        run("delegate", account.identifier, uai="0380001V", right="depannage", until=_until(3))
    assert not Delegation.objects.exists()


# --- demo --------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    models = (Establishment, User, Student, StudentAccount, Division, Mef, Delegation)
    counts = {m.__name__: m.objects.count() for m in models}
    counts["Assignment"] = Assignment.objects.count()
    counts["AuditEvent"] = AuditEvent.objects.count()
    return counts


@pytest.mark.django_db
def test_demo_refuses_a_database_with_other_establishments():
    EstablishmentFactory(uai="0690001" + check_letter("0690001"))
    before = _counts()
    with pytest.raises(CommandError, match="not the demo"):
        run("demo")
    assert _counts() == before


@pytest.mark.django_db
def test_demo_refuses_a_database_with_other_agents():
    AgentFactory(username="m.dupont", quick=True)
    with pytest.raises(CommandError, match="not the demo"):
        run("demo")
    assert not Establishment.objects.exists()


@pytest.mark.django_db
def test_demo_content_and_idempotence():
    first = run("demo")
    assert "demo loaded" in first
    counts = _counts()
    college = Establishment.objects.get(uai="0380001V")
    lycee = Establishment.objects.get(uai="0380002W")
    for est in (college, lycee):
        pupils = Student.objects.filter(establishment=est)
        assert pupils.count() >= 400
        assert pupils.values("division").distinct().count() >= 10
        assert pupils.values("mef").distinct().count() >= 4
        states = set(StudentAccount.objects.filter(student__establishment=est).values_list(
            "state", flat=True
        ))  # fmt: skip
        assert states == set(AccountState.values)
    zoe = StudentAccount.objects.select_related("student__division").get(
        student__first_name="Zoé", student__last_name="N'Guyen-Lefèvre"
    )
    assert zoe.student.establishment == college
    assert zoe.student.division.code == "3A"
    assert zoe.state == AccountState.INFORMED
    assert zoe.identifier in first
    vie_scolaire = User.objects.get(username="vie-scolaire.demo")
    assert authz.grants(vie_scolaire) == {college.pk: {Right.DEPANNAGE}}
    assert authz.is_head(User.objects.get(username="principal.demo"), college)
    assert authz.is_head(User.objects.get(username="principal2.demo"), lycee)

    second = run("demo")
    assert "unchanged" in second
    assert _counts() == counts
    assert StudentAccount.objects.get(pk=zoe.pk).state == AccountState.INFORMED


# --- The real program --------------------------------------------------------------------


def _env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "EDUCOMPTE_", "DJANGO_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'cli.sqlite3'}",
        EDUCOMPTE_VAR_DIR=str(tmp / "var"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def educompte(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own program, fixed arguments
        [str(EDUCOMPTE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp),
        cwd=tmp,
        timeout=120,
        check=False,
    )


def _rows(tmp: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp / "cli.sqlite3") as db:
        return db.execute(sql).fetchall()


def test_bad_check_letter_fails_before_touching_any_database(tmp_path):
    bad = educompte(tmp_path, "add-establishment", "0380002A", "Lycée")
    assert bad.returncode != 0
    assert "lettre de contrôle" in bad.stderr
    assert "W" in bad.stderr.split("lettre de contrôle")[1]
    assert "Traceback" not in bad.stderr


def test_operator_session_with_the_real_program(tmp_path):
    """migrate, add-establishment, add-agent --password-stdin, on a SQLite database of its
    own (never the tests' or the developer's)."""
    migrated = educompte(tmp_path, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr

    good = educompte(tmp_path, "add-establishment", "0380001V", "Collège Jean Moulin")
    assert good.returncode == 0, good.stderr
    assert _rows(tmp_path, "SELECT uai, name FROM schools_establishment") == [
        ("0380001V", "Collège Jean Moulin")
    ]

    agent = educompte(
        tmp_path, "add-agent", "m.dupont", "--uai", "0380001V", "--role", "head",
        "--password-stdin", stdin=STRONG + "\n",
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    [(password,)] = _rows(tmp_path, "SELECT password FROM accounts_user WHERE username='m.dupont'")
    assert password.startswith("argon2$argon2id$")
    assert STRONG not in password
