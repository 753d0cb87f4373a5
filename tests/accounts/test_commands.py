"""The operator commands of the accounts: ``add_agent`` and ``delegate``."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right, User
from educompte.accounts.services import one_year_after
from educompte.audit.models import AuditEvent
from tests.factories import AgentFactory

STRONG = "Motdepasse-solide-2026"


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
