"""The ``demo`` operator command: refusals, content, idempotence and the demo service."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right, User
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.schools.models import Division, Establishment, Mef
from educompte.schools.uai import check_letter
from tests.factories import AgentFactory, EstablishmentFactory


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


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


@pytest.mark.django_db
def test_the_demo_command_registers_and_prints_the_demo_service(monkeypatch):
    from educompte.demo import services as demo_services
    from educompte.demo.management.commands import demo as demo_command

    summary = demo_services.DemoSummary(False, "nzoe1", "ABCDEFGHJK")
    monkeypatch.setattr(demo_command, "load_demo", lambda stdout=None: summary)
    out = StringIO()
    call_command("demo", "--service-origin", "http://127.0.0.1:8010/", stdout=out)
    text = out.getvalue()
    assert "ENT démo" in text and "client id ent-demo" in text
    for origin in ("http://127.0.0.1:8000", "http://localhost:8000", "http://127.0.0.1:8010"):
        assert f"  {origin}/demo-service/\n" in text
    with pytest.raises(CommandError, match="service-origin refused"):
        call_command("demo", "--service-origin", "http://ent.example", stdout=StringIO())
