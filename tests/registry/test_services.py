"""Registry imports (educompte.registry.services): first import, reimports, leavers,
dry runs, partial imports and the purge of departed pupils."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.core.management import call_command

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.pupils import passwords
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.pupils.services import SignIn, provisional_password, sign_in_pupil
from educompte.registry.parsers import SieclePupils, read_nomenclature
from educompte.registry.services import purge_departed, run_import
from educompte.schools.models import Division, Mef, school_year_of
from tests.registry_helpers import (
    CHANGED,
    COLLEGE_UAI,
    CONFIRMED,
    LEFEVRE,
    LEFT_ON,
    LYCEE_UAI,
    MEF_3,
    MEF_4,
    NEWCOMER,
    OEUVRARD,
    PUPILS,
    TODAY,
    accounts_by_registry_id,
    counts,
    csv_bytes,
    csv_row,
    eleves_xml,
    fr,
    import_csv,
    import_xml,
    nomenclature_xml,
    pupil,
    run_cli,
    snapshot,
)

# --- First import ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["ISO-8859-15", "UTF-8"])
def test_first_import_creates_an_account_per_pupil(college, encoding):
    labels = read_nomenclature(nomenclature_xml())
    source = SieclePupils(eleves_xml(PUPILS, encoding=encoding), labels)

    report = run_import(authz.OPERATOR, college, source)

    assert counts(report) == (6, 0, 0, 0)
    assert report.total == 6
    accounts = accounts_by_registry_id()
    assert set(accounts) == {p["id"] for p in PUPILS}
    names = {rid: (a.student.last_name, a.student.first_name) for rid, a in accounts.items()}
    assert names == {
        "4001": ("Cœur", "Zoé"),
        "4002": ("Lebœuf", "Anaïs"),  # NOM_USAGE preferred to NOM_DE_FAMILLE
        "4003": ("N'Diaye", "Moussa"),
        "4004": ("Lefèvre-Martin", "Jean-Noël"),
        "4005": ("Œuvrard", "Lætitia"),
        "4006": ("D'Hérouville", "Éloïse"),
    }
    identifiers = [a.identifier for a in accounts.values()]
    assert len(set(identifiers)) == 6
    for rid, account in accounts.items():
        student = account.student
        assert account.state == AccountState.NOT_INFORMED
        password = provisional_password(account)
        assert password is not None and len(password) == 10
        assert set(password) <= set(passwords.ALPHABET)
        assert re.fullmatch(r"[a-z]{2,5}[0-9]{3,8}", account.identifier), account.identifier
        assert (account.user.last_name, account.user.first_name) == names[rid]
        assert student.establishment == college
        assert student.birth_date == datetime.date(2011, 3, 14)
        assert student.left_on is None
        assert student.division.school_year == school_year_of(TODAY)
    assert accounts["4005"].identifier.startswith("olaet")  # Œuvrard Lætitia, ASCII only
    assert accounts["4001"].student.ine == "1234567890A"
    assert accounts["4006"].student.ine is None
    assert {rid: a.student.division.code for rid, a in accounts.items()} == {
        "4001": "3A",
        "4002": "3A",
        "4003": "3B",
        "4004": "4A",
        "4005": "4A",
        "4006": "3B",
    }
    # Groups (3LATIN, 3ANGL1, AP-MATHS) and last year's class are not classes.
    assert set(Division.objects.values_list("code", flat=True)) == {"3A", "3B", "4A"}
    assert {rid: a.student.mef.label for rid, a in accounts.items()} == {
        "4001": "3EME",
        "4002": "3EME",
        "4003": "3EME",
        "4004": "4EME",
        "4005": "4EME",
        "4006": "3EME",
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.REGISTRY_IMPORT)
    assert event.establishment == college
    assert event.details["created"] == 6


# --- Re-imports ------------------------------------------------------------------------


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing(college):
    import_xml(college)
    before = snapshot()
    passwords_before = {
        rid: provisional_password(a) for rid, a in accounts_by_registry_id().items()
    }

    report = import_xml(college)

    assert counts(report) == (0, 0, 0, 6)
    after = snapshot()
    assert after["counts"]["AuditEvent"] == before["counts"]["AuditEvent"] + 1
    before["counts"].pop("AuditEvent")
    after["counts"].pop("AuditEvent")
    assert after == before  # same identifiers, hashes, encrypted provisional passwords
    assert {
        rid: provisional_password(a) for rid, a in accounts_by_registry_id().items()
    } == passwords_before


@pytest.mark.django_db
@pytest.mark.parametrize("partial", [False, True], ids=["complete", "partial"])
def test_reimporting_a_changed_file(college, tmp_path, partial):
    import_xml(college)
    before = accounts_by_registry_id()
    old_passwords = {rid: provisional_password(a) for rid, a in before.items()}
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(CHANGED))

    output = run_cli(path, uai=COLLEGE_UAI, partial=partial)

    deactivated = 1 if partial else 2
    assert output.splitlines()[-1] == (
        f"created 1, updated 3, deactivated {deactivated}, unchanged 1"
    )
    after = accounts_by_registry_id()
    assert set(after) == {p["id"] for p in PUPILS + [NEWCOMER]}
    for rid in before:  # nobody got a new identifier
        assert after[rid].identifier == before[rid].identifier
    assert after["4001"].student.last_name == "Cœur de Lion"
    assert after["4001"].student.search_name == "coeur de lion zoe"
    assert after["4002"].student.division.code == "3C"
    assert after["4003"].student.mef.code == MEF_4
    for rid in ("4001", "4002", "4003", "4006"):  # updates keep the credentials
        assert after[rid].state == AccountState.NOT_INFORMED
        assert provisional_password(after[rid]) == old_passwords[rid]
        assert after[rid].user.password == before[rid].user.password

    # DATE_SORTIE in the past: deactivated, the provisional password no longer works.
    left = after["4004"]
    assert left.state == AccountState.DEACTIVATED
    assert left.student.left_on == LEFT_ON
    assert left.provisional_password_encrypted is None
    assert not left.user.has_usable_password()
    outcome = sign_in_pupil(left.identifier, old_passwords["4004"]).outcome
    assert outcome not in (SignIn.OK, SignIn.ACTIVATE)

    absent = after["4005"]
    if partial:  # not a complete export: a pupil it does not list is left alone
        assert absent.state == AccountState.NOT_INFORMED
        assert absent.student.left_on is None
        assert provisional_password(absent) == old_passwords["4005"]
        assert sign_in_pupil(absent.identifier, old_passwords["4005"]).outcome == SignIn.ACTIVATE
    else:
        assert absent.state == AccountState.DEACTIVATED
        assert absent.student.left_on == TODAY
        assert not absent.user.has_usable_password()
        outcome = sign_in_pupil(absent.identifier, old_passwords["4005"]).outcome
        assert outcome not in (SignIn.OK, SignIn.ACTIVATE)

    new = after["4007"]
    assert (new.student.last_name, new.student.first_name) == ("Dupré", "Maëlys")
    assert new.state == AccountState.NOT_INFORMED
    assert len(provisional_password(new)) == 10


@pytest.mark.django_db
def test_complete_and_partial_imports_through_the_service(college):
    import_xml(college)
    assert counts(import_xml(college, CHANGED, complete=False)) == (1, 3, 1, 1)
    # The same file again, now as a complete export: only the absent pupil changes.
    assert counts(import_xml(college, CHANGED, complete=True)) == (0, 0, 1, 6)
    assert counts(import_xml(college, CHANGED, complete=True)) == (0, 0, 0, 6)


@pytest.mark.django_db
def test_name_change_reaches_the_login(college):
    """The login's names (shown in the header to the signed-in pupil, used by the password
    similarity check) follow the registry like the pupil's."""
    import_xml(college)

    import_xml(college, CHANGED)

    user = accounts_by_registry_id()["4001"].user
    assert (user.last_name, user.first_name) == ("Cœur de Lion", "Zoé")


# --- Pupil moving inside the installation ----------------------------------------------


@pytest.mark.django_db
def test_leaver_of_the_lycee_moves_to_the_college_with_the_file(college, lycee):
    """The normal change of establishment: the lycée's registry says the pupil left, the
    college's lists them. Same pupil and identifier; the deactivated account comes back
    with fresh credentials from the college, like any pupil listed again."""
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    import_xml(lycee, [{**mover, "left": fr(LEFT_ON)}])
    account = StudentAccount.objects.select_related("user", "student").get()
    assert account.state == AccountState.DEACTIVATED
    identifier = account.identifier
    before_counts = snapshot()["counts"]

    report = import_xml(college, [{**mover, "id": "5501", "division": "3A"}])

    assert counts(report) == (0, 1, 0, 0)
    assert report.transfers == 0
    account = StudentAccount.objects.select_related("user", "student__division").get()
    assert account.student.establishment == college
    assert account.student.registry_id == "5501"
    assert account.student.left_on is None
    assert account.student.division.establishment == college
    assert account.student.division.code == "3A"
    assert account.identifier == identifier
    assert account.state == AccountState.NOT_INFORMED
    assert len(provisional_password(account)) == 10
    after_counts = snapshot()["counts"]
    for model in ("Student", "StudentAccount", "User"):
        assert after_counts[model] == before_counts[model]
    # Both journals say where the pupil went / came from.
    arrived = AuditEvent.objects.filter(action="leaver_arrived", account=account)
    assert {(e.establishment.uai, tuple(sorted(e.details.items()))) for e in arrived} == {
        (LYCEE_UAI, (("to_uai", COLLEGE_UAI),)),
        (COLLEGE_UAI, (("from_uai", LYCEE_UAI),)),
    }


@pytest.mark.django_db
def test_leaver_listed_with_another_birth_date_is_asked_for_not_moved(college, lycee):
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    import_xml(lycee, [{**mover, "left": fr(LEFT_ON)}])

    report = import_xml(college, [{**mover, "id": "5501", "birth": "01/01/2010"}])

    assert counts(report) == (0, 0, 0, 0)
    assert report.transfers == 1
    student = Student.objects.get()
    assert student.establishment == lycee
    assert student.transfer_requests.get().state == "pending"


@pytest.mark.django_db
def test_pupil_current_in_the_lycee_is_not_moved_by_the_college_file(college, lycee):
    """Moving a current pupil needs the lycée's consent (tests/registry/test_transfers.py)."""
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    before = snapshot()["students"]

    report = import_xml(college, [{**mover, "id": "5501", "division": "3A"}])

    assert counts(report) == (0, 0, 0, 0)
    assert (report.transfers, report.samples["transfer"]) == (1, ["Lebœuf Noémie (3A)"])
    assert snapshot()["students"] == before
    assert report.summary_line() == (
        "created 0, updated 0, deactivated 0, unchanged 0, transfer requests pending 1"
    )


@pytest.mark.django_db
def test_an_import_never_renames_a_shared_mef(college, lycee):
    """MEF labels are the academy's nomenclature: one school's file must not rename them
    for every school. An unknown code is created with the file's label."""
    import_xml(college)
    rows = [csv_row(pupil("7001", None, "Martin", "Léa", mef=MEF_3))]
    rows.append(csv_row(pupil("7002", None, "Petit", "Hugo", mef="99999999999")))
    rows[0]["libelle_mef"] = "PIRATÉ"
    rows[1]["libelle_mef"] = "NOUVEAU MEF"

    import_csv(lycee, csv_bytes(rows))

    assert Mef.objects.get(code=MEF_3).label == "3EME"
    assert Mef.objects.get(code="99999999999").label == "NOUVEAU MEF"
    assert Student.objects.get(registry_id="7001").mef.label == "3EME"


# --- Dry run ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_dry_run_reports_and_writes_nothing(imported, tmp_path):
    before = snapshot()
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(CHANGED))

    report = import_xml(imported, CHANGED, dry_run=True)
    output = run_cli(path, uai=COLLEGE_UAI, dry_run=True, nomenclature=None)

    # Zoé (created by hand, not in the file) is absent from a complete export too.
    assert counts(report) == (1, 3, 3, 1)
    assert report.dry_run
    assert output.splitlines() == [
        "dry run: nothing was written",
        "created 1, updated 3, deactivated 3, unchanged 1",
        # Three of the five live accounts: the real run asks for the count.
        "the real run needs --allow-deactivations 3 (more than 0 deactivations)",
    ]
    assert snapshot() == before


# --- Purge of departed pupils ----------------------------------------------------------


@pytest.mark.django_db
def test_purge_erases_old_leavers_and_keeps_the_audit_trail(college, quick_head):
    long_ago = TODAY - datetime.timedelta(days=200)
    recently = TODAY - datetime.timedelta(days=5)
    import_xml(college)
    import_xml(
        college,
        [
            {**LEFEVRE, "left": fr(long_ago)},
            {**OEUVRARD, "left": fr(recently)},
            *[p for p in PUPILS if p not in (LEFEVRE, OEUVRARD)],
        ],
    )
    accounts = accounts_by_registry_id()
    old, recent = accounts["4004"], accounts["4005"]
    assert old.state == recent.state == AccountState.DEACTIVATED
    old_ids = (old.student_id, old.pk, old.user_id, old.identifier)
    record(
        AuditEvent.Action.ACCOUNT_DEACTIVATED, actor=quick_head, establishment=college, account=old
    )
    events_before = AuditEvent.objects.count()

    out = io.StringIO()
    call_command("purge_departed", days=92, stdout=out)

    assert out.getvalue().strip() == "erased 1 departed pupil(s) (left more than 92 days ago)"
    assert not Student.objects.filter(pk=old_ids[0]).exists()
    assert not StudentAccount.objects.filter(pk=old_ids[1]).exists()
    assert not User.objects.filter(pk=old_ids[2]).exists()
    assert not Student.objects.filter(last_name="Lefèvre-Martin").exists()
    assert StudentAccount.objects.filter(pk=recent.pk).exists()
    assert Student.objects.count() == 5
    assert AuditEvent.objects.count() == events_before
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_DEACTIVATED)
    assert event.account is None
    assert event.subject_label == old_ids[3]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REGISTRY_IMPORT).count() == 2

    # Later, past the retention period for the second one too.
    assert purge_departed(92, today=recently + datetime.timedelta(days=93)) == 1
    assert not StudentAccount.objects.filter(pk=recent.pk).exists()
    assert Student.objects.count() == 4


def test_dry_run_and_partial_with_the_absent_pupils_on_disk(college):
    run_import(authz.OPERATOR, college, SieclePupils(eleves_xml(PUPILS)))
    fewer = SieclePupils(eleves_xml(PUPILS[:2]))
    before = snapshot()
    report = run_import(authz.OPERATOR, college, fewer, dry_run=True)
    assert counts(report) == (0, 0, 4, 2)
    assert snapshot() == before
    first_two = eleves_xml(PUPILS[:2])
    partial = run_import(authz.OPERATOR, college, SieclePupils(first_two), complete=False)
    assert counts(partial) == (0, 0, 0, 2)
    complete = run_import(
        authz.OPERATOR, college, SieclePupils(first_two), allow_deactivations=CONFIRMED
    )
    assert counts(complete) == (0, 0, 4, 2)
    states = {rid: a.state for rid, a in accounts_by_registry_id().items()}
    deactivated = sorted(rid for rid, state in states.items() if state == AccountState.DEACTIVATED)
    assert deactivated == ["4003", "4004", "4005", "4006"]
    assert StudentAccount.objects.count() == 6
