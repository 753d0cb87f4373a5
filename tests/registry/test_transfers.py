"""A pupil current in one establishment is never taken by another establishment's file.

The attack (issue 11): the head of 0380002W imports a one-line CSV carrying the INE of an
activated pupil of 0380001V. The import must leave that pupil where they are, untouched,
and file a transfer request that 0380001V (or the academy) decides on; both journals
record it; the preview reveals nothing about 0380001V's pupils.
"""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, Student
from educompte.registry import transfers
from educompte.registry.models import TransferRequest
from educompte.sso import selectors as sso_selectors
from educompte.sso import services as sso_services
from tests.helpers import verified_client
from tests.registry_helpers import COEUR, attack_csv, import_as, snapshot, state_of

pytestmark = pytest.mark.django_db
COLLEGE_UAI, LYCEE_UAI = "0380001V", "0380002W"
INE = COEUR["ine"]
UNKNOWN_INE = "9999999999X"


@pytest.fixture
def service(db):
    return sso_services.register_service(
        "ENT", ["https://ent.example/cb"], by=authz.OPERATOR
    ).service.application


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
    from tests.registry_helpers import LEFT_ON, fr

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
