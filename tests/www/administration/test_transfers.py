"""Administration des comptes, transfers: the preview, the decision on the web, the report."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from educompte.pupils.models import AccountState, StudentAccount
from educompte.registry import jobs
from educompte.registry.models import ImportJob, TransferRequest
from tests.helpers import signed_in, verified
from tests.registry_helpers import COEUR, attack_csv, import_as, import_xml, snapshot, state_of

pytestmark = pytest.mark.django_db
COLLEGE_UAI, LYCEE_UAI = "0380001V", "0380002W"
INE = COEUR["ine"]
UNKNOWN_INE = "9999999999X"


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
