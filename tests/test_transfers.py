"""A pupil current in one establishment is never taken by another establishment's file.

The attack (issue 11): the head of 0380002W imports a one-line CSV carrying the INE of an
activated pupil of 0380001V. The import must leave that pupil where they are, untouched,
and file a transfer request that 0380001V (or the academy) decides on; both journals
record it; the preview reveals nothing about 0380001V's pupils.
"""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.registry import jobs, transfers
from educompte.registry.models import ImportJob, TransferRequest
from educompte.registry.parsers import open_source
from educompte.registry.services import run_import
from educompte.sso import selectors as sso_selectors
from educompte.sso import services as sso_services
from tests.conftest import verified_client
from tests.helpers import signed_in
from tests.test_import_views import verified
from tests.test_registry import COEUR, csv_bytes, csv_row, import_xml, pupil, snapshot

pytestmark = pytest.mark.django_db

COLLEGE_UAI, LYCEE_UAI = "0380001V", "0380002W"
INE = COEUR["ine"]
UNKNOWN_INE = "9999999999X"
# What the attacker's file says: the victim's INE, any name and birth date.
ATTACK_ROW = pupil("L-1", INE, "Pirate", "Jean", birth="01/01/2010", division="2NDE1")


def attack_csv(ine: str = INE, **extra) -> bytes:
    return csv_bytes([csv_row({**ATTACK_ROW, "ine": ine}, **extra)])


def import_as(agent, establishment, data: bytes, **kwargs):
    """The service the web upload (registry.jobs) and the command line both call."""
    return run_import(agent, establishment, open_source(data, "eleves.csv"), **kwargs)


@pytest.fixture
def victim(college):
    """Zoé Cœur of the college: activated, chosen password, known to a service."""
    import_xml(college, [COEUR])
    account = StudentAccount.objects.select_related("user", "student").get()
    account.user.password = make_password("le mot de passe de Zoé")
    account.user.save(update_fields=["password"])
    account.state = AccountState.ACTIVE
    account.activated_at = timezone.now()
    account.provisional_password_encrypted = None
    account.save()
    return account


@pytest.fixture
def service(db):
    return sso_services.register_service(
        "ENT", ["https://ent.example/cb"], by=authz.OPERATOR
    ).service.application


def state_of(account: StudentAccount) -> tuple:
    account = StudentAccount.objects.select_related("user", "student").get(pk=account.pk)
    return (
        account.student.establishment.uai,
        account.user.username,
        account.user.password,
        account.state,
        account.user.session_version,
    )


def journal(uai: str, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(establishment__uai=uai, action=action).order_by("pk"))


# --- The attack -------------------------------------------------------------------------


def test_an_import_never_takes_a_current_pupil_of_another_establishment(
    victim, lycee, quick_other_head, service
):
    sub = sso_selectors.subject_for(victim.user, service)
    before = state_of(victim)
    counts_before = snapshot()["counts"]

    report = import_as(quick_other_head, lycee, attack_csv())

    # The pupil stays, untouched: same establishment, identifier, password hash, state.
    assert state_of(victim) == before
    assert sso_selectors.subject_for(victim.user, service) == sub
    assert (report.created, report.updated, report.deactivated) == (0, 0, 0)
    assert (report.transfers, report.samples["transfer"]) == (1, ["Pirate Jean (2NDE1)"])
    counts_after = snapshot()["counts"]
    for model in ("Student", "StudentAccount", "User"):  # no account created meanwhile
        assert counts_after[model] == counts_before[model]
    # A pending request, for the college to decide.
    transfer = TransferRequest.objects.get()
    assert (transfer.student_id, transfer.state) == (victim.student_id, "pending")
    assert (transfer.from_establishment.uai, transfer.to_establishment.uai) == (
        COLLEGE_UAI,
        LYCEE_UAI,
    )
    assert transfer.requested_by == quick_other_head
    assert (transfer.registry_id, transfer.division_code) == ("L-1", "2NDE1")
    # Both journals say so; the lycée's names only what its own file said.
    [college_event] = journal(COLLEGE_UAI, transfers.TRANSFER_REQUESTED)
    assert college_event.account == victim
    assert college_event.actor == quick_other_head
    assert college_event.details == {"transfer": transfer.pk, "to_uai": LYCEE_UAI}
    [lycee_event] = journal(LYCEE_UAI, transfers.TRANSFER_REQUESTED)
    assert lycee_event.account is None and lycee_event.subject_label == ""
    assert lycee_event.details == {"transfer": transfer.pk, "pupil": "Pirate Jean (2NDE1)"}
    lycee_text = str(
        list(AuditEvent.objects.filter(establishment=lycee).values()) + [report.as_dict()]
    )
    for secret in ("Cœur", "Zoé", victim.user.username, COLLEGE_UAI):
        assert secret not in lycee_text


def test_the_attacker_cannot_reset_what_it_does_not_hold(victim, lycee, quick_other_head):
    """After the import the lycée still has no right on the pupil: Dépannage of the lycée
    does not find them and the reset is refused."""
    import_as(quick_other_head, lycee, attack_csv())
    client = verified_client(quick_other_head)

    page = client.get(f"/depannage/{LYCEE_UAI}/eleves/", {"q": "coeur"})
    assert victim.user.username not in page.content.decode()
    response = client.post(f"/depannage/{LYCEE_UAI}/eleves/{victim.pk}/reinitialiser/")
    assert response.status_code in (403, 404)
    assert state_of(victim)[2:4] == (victim.user.password, AccountState.ACTIVE)


def test_a_row_saying_the_pupil_left_changes_nothing_elsewhere(victim, lycee, quick_other_head):
    from tests.test_registry import LEFT_ON, fr

    before = state_of(victim)

    report = import_as(quick_other_head, lycee, attack_csv(date_sortie=fr(LEFT_ON)))

    assert state_of(victim) == before
    assert (report.deactivated, report.transfers, report.unchanged) == (0, 0, 1)
    assert not TransferRequest.objects.exists()


def test_reimporting_does_not_ask_twice(victim, lycee, quick_other_head):
    import_as(quick_other_head, lycee, attack_csv())
    events = AuditEvent.objects.count()

    report = import_as(quick_other_head, lycee, attack_csv())

    assert report.transfers == 1
    assert TransferRequest.objects.count() == 1
    assert AuditEvent.objects.count() == events + 1  # the import itself only


# --- Decisions ----------------------------------------------------------------------------


def test_accepting_moves_the_pupil_with_the_account_untouched(
    victim, lycee, quick_head, quick_other_head, service
):
    sub = sso_selectors.subject_for(victim.user, service)
    _college, identifier, hash_, state, sessions = state_of(victim)
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()

    assert transfers.decide(quick_head, transfer.pk, accept=True) == transfers.Outcome.ACCEPTED

    assert state_of(victim) == (LYCEE_UAI, identifier, hash_, state, sessions)
    assert sso_selectors.subject_for(victim.user, service) == sub
    student = Student.objects.select_related("division").get()
    assert (student.registry_id, student.division.code) == ("L-1", "2NDE1")
    assert student.division.establishment == lycee
    transfer.refresh_from_db()
    assert (transfer.state, transfer.decided_by) == ("accepted", quick_head)
    assert transfer.decided_at is not None
    for uai, key, other in (
        (COLLEGE_UAI, "to_uai", LYCEE_UAI),
        (LYCEE_UAI, "from_uai", COLLEGE_UAI),
    ):
        [event] = journal(uai, transfers.TRANSFER_ACCEPTED)
        assert (event.account, event.actor) == (victim, quick_head)
        assert event.details == {"transfer": transfer.pk, key: other}
    # Twice is nothing more; the lycée's next import finds its pupil.
    assert transfers.decide(quick_head, transfer.pk, accept=True) == "already_decided"
    report = import_as(quick_other_head, lycee, attack_csv())
    assert (report.updated, report.transfers, report.created) == (1, 0, 0)
    assert state_of(victim)[:4] == (LYCEE_UAI, identifier, hash_, AccountState.ACTIVE)


def test_refusing_keeps_the_pupil_and_is_not_asked_again(
    victim, lycee, quick_head, quick_other_head
):
    before = state_of(victim)
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()

    assert transfers.decide(quick_head, transfer.pk, accept=False) == transfers.Outcome.REFUSED

    assert state_of(victim) == before
    transfer.refresh_from_db()
    assert transfer.state == "refused"
    [college_event] = journal(COLLEGE_UAI, transfers.TRANSFER_REFUSED)
    assert college_event.account == victim
    [lycee_event] = journal(LYCEE_UAI, transfers.TRANSFER_REFUSED)
    assert lycee_event.account is None
    assert lycee_event.details == {"transfer": transfer.pk, "pupil": "Pirate Jean (2NDE1)"}

    report = import_as(quick_other_head, lycee, attack_csv())

    assert (report.transfers, report.transfers_refused) == (0, 1)
    assert TransferRequest.objects.count() == 1
    assert state_of(victim) == before


def test_only_the_pupils_establishment_or_the_academy_decides(
    victim, lycee, quick_head, quick_other_head, quick_delegate, academy_admin
):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()

    for agent in (quick_other_head, quick_delegate):  # requester; dépannage only
        with pytest.raises(PermissionDenied):
            transfers.decide(agent, transfer.pk, accept=True)
    assert state_of(victim)[0] == COLLEGE_UAI

    assert transfers.decide(academy_admin, transfer.pk, accept=False) == "refused"


def test_a_request_whose_pupil_has_gone_elsewhere_is_moot(
    victim, lycee, quick_head, quick_other_head
):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()
    third = type(lycee).objects.create(uai="0380003X", name="Lycée tiers")
    Student.objects.update(establishment=third)

    assert transfers.decide(authz.OPERATOR, transfer.pk, accept=True) == "obsolete"
    assert Student.objects.get().establishment == third


# --- The preview reveals nothing -----------------------------------------------------------


def _preview(agent, establishment, data: bytes) -> ImportJob:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return jobs.start(
        agent, establishment, SimpleUploadedFile("eleves.csv", data), None, complete=True
    )


@pytest.mark.parametrize("activated", [True, False], ids=["current", "departed"])
def test_the_preview_is_the_same_whether_the_ine_is_known_elsewhere_or_not(
    victim, lycee, quick_other_head, settings, tmp_path, activated
):
    settings.VAR_DIR = tmp_path
    if not activated:  # a leaver of the college: the real import would move them
        import_xml(victim.student.establishment, [{**COEUR, "left": "01/09/2020"}])
    before = snapshot()
    client = verified(quick_other_head)

    pages, previews = [], []
    for ine in (INE, UNKNOWN_INE):
        job = _preview(quick_other_head, lycee, attack_csv(ine))
        previews.append(job.preview)
        html = client.get(f"/administration/{LYCEE_UAI}/import/{job.pk}/").content.decode()
        html = html.replace(str(job.pk), "JOB")
        pages.append(re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html))

    assert previews[0] == previews[1]
    assert previews[0]["created"] == 1 and previews[0]["transfers"] == 0
    assert pages[0] == pages[1]
    assert "si ce numéro INE y est connu" in pages[0]
    assert snapshot() == before  # the dry run hid the INE only inside its own transaction
    assert not TransferRequest.objects.exists()


def test_the_command_line_dry_run_is_the_same_too(victim, lycee, tmp_path):
    outputs = []
    for ine in (INE, UNKNOWN_INE):
        path = tmp_path / f"{ine}.csv"
        path.write_bytes(attack_csv(ine))
        out = io.StringIO()
        call_command("import_students", str(path), uai=LYCEE_UAI, dry_run=True, stdout=out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert outputs[0].splitlines()[-1] == "created 1, updated 0, deactivated 0, unchanged 0"


# --- Web: the college's Transferts tab, the lycée's report, the portal ---------------------


def test_the_college_sees_and_accepts_the_request_on_the_web(
    victim, lycee, quick_head, quick_other_head
):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()
    client = verified(quick_head)
    url = f"/administration/{COLLEGE_UAI}/transferts/"

    page = client.get(url).content.decode()
    assert "Cœur Zoé" in page and victim.user.username in page and lycee.name in page
    portal = client.get("/portail/").content.decode()
    assert "1 demande de transfert en attente" in portal

    decide = f"{url}{transfer.pk}/decider/"
    assert client.get(decide).status_code == 405  # no change on GET
    assert client.post(decide, {"decision": "maybe"}).status_code == 302
    assert TransferRequest.objects.get().state == "pending"
    response = client.post(decide, {"decision": "accept"}, follow=True)
    assert "Transfert accepté" in response.content.decode()
    assert state_of(victim)[0] == LYCEE_UAI
    assert "demande de transfert en attente" not in client.get("/portail/").content.decode()


def test_the_decision_needs_the_csrf_token_and_the_right(
    victim, lycee, quick_head, quick_other_head
):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()
    path = f"/administration/{COLLEGE_UAI}/transferts/{transfer.pk}/decider/"

    strict = signed_in(quick_head, enforce_csrf_checks=True)
    assert strict.post(path, {"decision": "accept"}).status_code == 403
    lycee_client = verified(quick_other_head)
    assert lycee_client.post(path, {"decision": "accept"}).status_code == 403
    # Under its own establishment's address, the request of another is not found.
    own = f"/administration/{LYCEE_UAI}/transferts/{transfer.pk}/decider/"
    assert lycee_client.post(own, {"decision": "accept"}).status_code == 404
    assert TransferRequest.objects.get().state == "pending"
    # The lycée's tab lists what its file said, nothing of the college's pupil.
    page = lycee_client.get(f"/administration/{LYCEE_UAI}/transferts/").content.decode()
    assert "Pirate Jean (2NDE1)" in page
    for secret in ("Cœur", "Zoé", victim.user.username, COLLEGE_UAI, "Collège"):
        assert secret not in page


def test_the_confirmed_import_reports_the_pending_transfer(
    victim, lycee, quick_other_head, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False
    job = _preview(quick_other_head, lycee, attack_csv())
    jobs.confirm(quick_other_head, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (job.report["created"], job.report["transfers"]) == (0, 1)

    page = verified(quick_other_head).get(f"/administration/{LYCEE_UAI}/import/{job.pk}/")
    text = page.content.decode()
    assert "en attente de transfert" in text
    assert "Pirate Jean (2NDE1)" in text
    for secret in ("Cœur", "Zoé", victim.user.username, COLLEGE_UAI):
        assert secret not in text


# --- The academy's command ----------------------------------------------------------------


def test_the_academy_decides_from_the_command_line(victim, lycee, quick_other_head):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()
    out = io.StringIO()

    call_command("transfer_requests", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "1 pending transfer request(s)"
    assert f"{COLLEGE_UAI} -> {LYCEE_UAI}" in lines[0] and victim.user.username in lines[0]

    call_command("transfer_requests", accept=transfer.pk, stdout=out)
    assert out.getvalue().splitlines()[-1] == f"transfer request {transfer.pk} accepted"
    assert state_of(victim)[0] == LYCEE_UAI
    with pytest.raises(CommandError, match="already decided"):
        call_command("transfer_requests", refuse=transfer.pk)
    with pytest.raises(CommandError, match="no transfer request"):
        call_command("transfer_requests", refuse=99999)
