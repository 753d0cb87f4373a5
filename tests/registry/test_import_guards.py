"""What an import may not do by accident: deactivate a mass of accounts without the count
being confirmed (service, command line, web jobs), take a short file for a complete
export, or bring back an account that staff deactivated."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.pupils import services as pupil_services
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.registry.parsers import CSV_COLUMNS, CsvPupils
from educompte.registry.services import (
    MassDeactivation,
    mass_deactivation_limit,
    run_import,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 1)


def row(n: int, **extra) -> dict:
    return {
        "id_eleve": f"{5000 + n}",
        "ine": "",
        "nom": f"Élève{n:03d}",
        "prenom": "Zoé",
        "date_naissance": "14/03/2013",
        "classe": "6A",
        **extra,
    }


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in CSV_COLUMNS})
    return out.getvalue().encode()


def import_rows(establishment, rows, **kwargs):
    return run_import(
        authz.OPERATOR, establishment, CsvPupils(csv_bytes(rows)), today=TODAY, **kwargs
    )


def state_counts(establishment) -> dict[str, int]:
    accounts = StudentAccount.objects.filter(student__establishment=establishment)
    return {s: accounts.filter(state=s).count() for s in AccountState.values}


@pytest.mark.parametrize(("live", "limit"), [(0, 0), (10, 0), (100, 5), (400, 20), (2000, 20)])
def test_the_limit_is_five_percent_or_twenty(live, limit):
    assert mass_deactivation_limit(live) == limit


@pytest.fixture
def forty(college):
    """An establishment with 40 live accounts (limit: 2 deactivations)."""
    import_rows(college, [row(n) for n in range(40)])
    return [row(n) for n in range(40)]


def test_a_complete_import_deactivating_more_than_allowed_writes_nothing(college, forty):
    before = state_counts(college)
    with pytest.raises(MassDeactivation) as raised:
        import_rows(college, forty[:30])  # 10 absent: more than 2
    assert raised.value.count == 10
    assert state_counts(college) == before
    assert not Student.objects.filter(establishment=college, left_on__isnull=False).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REGISTRY_IMPORT).count() == 1


def test_the_preview_reports_the_mass_deactivation_without_refusing(college, forty):
    report = import_rows(college, forty[:30], dry_run=True)
    assert (report.deactivated, report.live_before, report.deactivation_limit) == (10, 40, 2)
    assert report.mass_deactivation
    assert report.as_dict()["mass_deactivation"] is True
    assert len(report.samples["deactivated"]) == 10


def test_confirming_fewer_than_the_count_is_refused(college, forty):
    with pytest.raises(MassDeactivation):
        import_rows(college, forty[:30], allow_deactivations=9)
    assert state_counts(college)[AccountState.DEACTIVATED] == 0


def test_confirming_the_count_deactivates(college, forty):
    report = import_rows(college, forty[:30], allow_deactivations=10)
    assert report.deactivated == 10
    assert state_counts(college)[AccountState.DEACTIVATED] == 10


def test_up_to_the_limit_needs_no_confirmation(college, forty):
    report = import_rows(college, forty[:38])
    assert (report.deactivated, report.mass_deactivation) == (2, False)


def test_leavers_named_by_the_file_count_too(college, forty):
    left = [{**r, "date_sortie": "30/11/2026"} if n < 5 else r for n, r in enumerate(forty)]
    with pytest.raises(MassDeactivation) as raised:
        import_rows(college, left, complete=False)
    assert raised.value.count == 5


def test_the_command_line_refuses_then_accepts_with_the_count(college, forty, tmp_path):
    path = tmp_path / "eleves.csv"
    path.write_bytes(csv_bytes(forty[:30]))
    out = io.StringIO()
    call_command("import_students", str(path), uai=college.uai, dry_run=True, stdout=out)
    assert "--allow-deactivations 10" in out.getvalue()
    with pytest.raises(CommandError) as refused:
        call_command("import_students", str(path), uai=college.uai, stdout=io.StringIO())
    message = str(refused.value)
    assert "nothing was written" in message
    assert "would deactivate 10 accounts" in message
    assert "--allow-deactivations 10" in message
    assert state_counts(college)[AccountState.DEACTIVATED] == 0
    with pytest.raises(CommandError):
        call_command(
            "import_students",
            str(path),
            uai=college.uai,
            allow_deactivations=9,
            stdout=io.StringIO(),
        )
    out = io.StringIO()
    call_command("import_students", str(path), uai=college.uai, allow_deactivations=10, stdout=out)
    assert "deactivated 10" in out.getvalue()
    assert state_counts(college)[AccountState.DEACTIVATED] == 10


def test_partial_imports_deactivate_no_absent_pupil(college, forty, tmp_path):
    path = tmp_path / "eleves.csv"
    path.write_bytes(csv_bytes(forty[:3]))
    out = io.StringIO()
    call_command("import_students", str(path), uai=college.uai, partial=True, stdout=out)
    assert "deactivated 0" in out.getvalue()


# --- Manual deactivations stick -------------------------------------------------------------


def test_staff_deactivation_survives_a_reimport_listing_the_pupil(college, forty, quick_head):
    account = StudentAccount.objects.get(student__registry_id="5003")
    pupil_services.deactivate(quick_head, college, [account.pk], reason="Usurpation")
    account.refresh_from_db()
    assert account.deactivated_by_staff
    # The registry then says the pupil left, and later lists them again as current.
    left = [{**r, "date_sortie": "30/11/2026"} if r["id_eleve"] == "5003" else r for r in forty]
    import_rows(college, left)
    report = import_rows(college, forty, dry_run=True)
    assert report.kept_deactivated == 1 and report.reactivated == 0
    assert report.samples["kept_deactivated"] == ["Élève003 Zoé"]
    import_rows(college, forty)
    account.refresh_from_db()
    assert account.state == AccountState.DEACTIVATED
    assert account.deactivated_by_staff


def test_registry_deactivation_comes_back_and_the_preview_says_why(college, forty):
    left = [{**r, "date_sortie": "30/11/2026"} if r["id_eleve"] == "5003" else r for r in forty]
    import_rows(college, left)
    account = StudentAccount.objects.get(student__registry_id="5003")
    assert account.state == AccountState.DEACTIVATED
    assert not account.deactivated_by_staff
    report = import_rows(college, forty, dry_run=True)
    assert report.reactivated == 1 and report.kept_deactivated == 0
    assert report.samples["reactivated"] == ["Élève003 Zoé — 30/11/2026"]
    report = import_rows(college, forty)
    assert "reactivated 1" in report.summary_line()
    account.refresh_from_db()
    assert account.state == AccountState.NOT_INFORMED


def test_reactivation_by_staff_clears_the_mark(college, forty, quick_head):
    account = StudentAccount.objects.get(student__registry_id="5004")
    pupil_services.deactivate(quick_head, college, [account.pk], reason="Usurpation")
    pupil_services.reactivate(quick_head, college, [account.pk], reason="Vérifié")
    account.refresh_from_db()
    assert account.state == AccountState.NOT_INFORMED
    assert not account.deactivated_by_staff


# --- Homonyms -------------------------------------------------------------------------------


def test_the_preview_flags_a_new_pupil_with_the_name_and_class_of_another(college, forty):
    twin = row(99, nom="Élève003", prenom="Zoé", classe="6A")
    other_class = row(98, nom="Élève004", prenom="Zoé", classe="5B")
    report = import_rows(college, [*forty, twin, other_class], dry_run=True)
    assert report.created == 2
    assert report.homonyms == 1
    assert report.samples["homonym"] == ["Élève003 Zoé (6A)"]


def test_two_new_pupils_of_the_same_name_and_class_are_both_flagged(college):
    report = import_rows(college, [row(1, nom="Martin"), row(2, nom="Martin")])
    assert (report.created, report.homonyms) == (2, 2)
    assert StudentAccount.objects.count() == 2
