"""Administration des comptes, tab "Import": upload, preview, confirmation, report."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.utils import OperationalError
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts.models import Right
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, Student
from educompte.registry import jobs, services
from educompte.registry.models import ImportJob
from tests.factories import make_delegate, make_head
from tests.helpers import signed_in, verified
from tests.registry_helpers import (
    CHANGED,
    COEUR,
    IMPORT,
    NEWCOMER,
    PUPILS,
    UAI,
    confirm_url,
    csv_bytes,
    csv_row,
    eleves_xml,
    import_xml,
    job_url,
    nomenclature_xml,
    page,
    problem_rows,
    pupil,
    snapshot,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def imports_dir(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False
    return tmp_path / "imports"


@pytest.fixture
def head_client(quick_head, imports_dir):
    return verified(quick_head)


def shown_counts(text: str) -> list[int]:
    """created, updated, deactivated, unchanged as the page shows them."""
    block = text.split('id="import-counts"', 1)[1]
    return [int(n) for n in re.findall(r'<span class="ec-count__n">(\d+)</span>', block)[:4]]


def test_upload_preview_then_confirm(head_client, quick_head, college, imports_dir):
    response = upload(
        head_client,
        eleves_xml(PUPILS),
        nomenclature=SimpleUploadedFile("Nomenclature.xml", nomenclature_xml()),
    )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert job.status == ImportJob.Status.PREVIEWED
    assert job.created_by == quick_head
    assert job.complete
    stored = [Path(job.stored_path), Path(job.nomenclature_path)]
    assert stored_files(imports_dir) == sorted(stored)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in stored)
    assert not Student.objects.exists()  # a preview writes nothing

    text = page(head_client.get(job_url(job)))
    assert "Le fichier est valide (6 élèves)" in text
    assert shown_counts(text) == [6, 0, 0, 0]
    assert "Confirmer l'import" in text
    assert not Student.objects.exists()

    response = head_client.post(confirm_url(job), {"confirm": "1"})

    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (job.processed, job.total) == (6, 6)
    assert job.report["created"] == 6
    # The uploaded files (personal data) are gone once the import has ended.
    assert job.stored_path == job.nomenclature_path == ""
    assert not any(p.exists() for p in stored)
    assert stored_files(imports_dir) == []
    students = Student.objects.filter(establishment=college).select_related("account", "mef")
    assert sorted(s.last_name for s in students) == sorted(p["usage"] or p["last"] for p in PUPILS)
    assert {s.mef.label for s in students} == {"3EME", "4EME"}
    assert all(s.account.state == AccountState.NOT_INFORMED for s in students)
    event = AuditEvent.objects.get(action=AuditEvent.Action.REGISTRY_IMPORT)
    assert event.actor == quick_head

    text = page(head_client.get(job_url(job)))
    assert "Import terminé" in text
    assert "6 élèves traités" in text
    assert shown_counts(text) == [6, 0, 0, 0]
    assert "Cœur Zoé (3A)" in text
    assert "Confirmer l'import" not in text

    # A second click on "Confirmer" does not import again.
    head_client.post(confirm_url(job), {"confirm": "1"})
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REGISTRY_IMPORT).count() == 1
    assert Student.objects.count() == 6
    assert job.filename in page(head_client.get(IMPORT))  # in the history


@pytest.mark.parametrize("complete", [True, False], ids=["complete", "partial"])
def test_preview_of_a_changed_file(head_client, college, complete):
    import_xml(college)
    before = snapshot()

    response = upload(head_client, eleves_xml(CHANGED), complete=complete)

    text = page(head_client.get(response["Location"]))
    assert shown_counts(text) == [1, 3, 2 if complete else 1, 1]
    assert "Dupré Maëlys (3C)" in text
    assert snapshot() == before


BAD_FILES = {
    "wrong-establishment": (
        "ElevesSansAdresses.xml",
        eleves_xml([COEUR, NEWCOMER], uai="0380002W"),
        [["PARAMETRES/UAJ", "le fichier est celui de l'établissement 0380002W, pas de 0380001V"]],
    ),
    "csv-bad-date": (
        "eleves.csv",
        csv_bytes(
            [
                csv_row({**COEUR, "last": "Cœur de Lion"}),
                csv_row(pupil("4998", "9934567890Z", "Dupont", "Léo", birth="31/02/2011")),
                csv_row(NEWCOMER),
            ],
            encoding="cp1252",
        ),
        [["ligne 3", "date de naissance « 31/02/2011 » invalide (jj/mm/aaaa attendu)"]],
    ),
    "duplicate-ine": (
        "ElevesSansAdresses.xml",
        eleves_xml([COEUR, NEWCOMER, pupil("4998", COEUR["ine"], "Lebœuf", "Léo")]),
        [["ELEVE n°3 (ELEVE_ID=4998)", f"INE {COEUR['ine']} en double"]],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_with_its_problems(head_client, college, imports_dir, case):
    name, data, rows = BAD_FILES[case]
    import_xml(college)
    before = snapshot()

    response = upload(head_client, data, name)

    job = ImportJob.objects.get()
    assert response["Location"] == job_url(job)
    assert job.status == ImportJob.Status.REFUSED
    assert job.stored_path == ""
    assert stored_files(imports_dir) == []
    text = page(head_client.get(job_url(job)))
    assert "Import refusé : aucune donnée n'a été modifiée" in text
    assert "1 problème trouvé" in text
    assert problem_rows(text) == rows
    assert "Confirmer l'import" not in text

    head_client.post(confirm_url(job), {"confirm": "1"})  # nothing to confirm
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert snapshot() == before


def test_cancel(head_client, college, imports_dir):
    import_xml(college)
    before = snapshot()
    upload(head_client, eleves_xml(CHANGED))
    job = ImportJob.objects.get()
    stored = Path(job.stored_path)
    assert stored.exists()

    response = head_client.post(confirm_url(job), {"cancel": "1"}, follow=True)

    assert response.redirect_chain == [(IMPORT, 302)]
    assert "Import annulé : aucune donnée n'a été modifiée." in page(response)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert job.stored_path == ""
    assert not stored.exists()
    assert stored_files(imports_dir) == []

    head_client.post(confirm_url(job), {"confirm": "1"})  # too late: cancelled
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert snapshot() == before


def test_head_of_another_establishment_cannot_see_or_run_the_job(
    head_client, quick_other_head, college
):
    upload(head_client, eleves_xml(PUPILS))
    job = ImportJob.objects.get()
    other = verified(quick_other_head)

    assert other.get(job_url(job)).status_code == 403  # no right on the college
    assert other.post(confirm_url(job), {"confirm": "1"}).status_code == 403
    assert other.post(confirm_url(job), {"cancel": "1"}).status_code == 403
    # Through their own establishment's address: the job is not theirs.
    assert other.get(job_url(job, "0380002W")).status_code == 404
    assert other.post(confirm_url(job, "0380002W"), {"confirm": "1"}).status_code == 404
    assert "Aucun import pour le moment." in page(other.get("/administration/0380002W/import/"))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    assert not Student.objects.exists()


def test_import_needs_the_right_and_the_second_factor(quick_head, college, imports_dir):
    unverified = signed_in(quick_head)
    TOTPDevice.objects.create(user=quick_head, name="test", confirmed=True)
    response = upload(unverified, eleves_xml(PUPILS))
    assert response.status_code == 302
    assert response["Location"].startswith("/portail/second-facteur/")

    depannage_only = verified(make_delegate(college, Right.DEPANNAGE, username="vs", quick=True))
    assert upload(depannage_only, eleves_xml(PUPILS)).status_code == 403

    assert not ImportJob.objects.exists()
    assert stored_files(imports_dir) == []
    assert not Student.objects.exists()


def test_upload_form_refuses_other_formats(head_client, imports_dir):
    response = upload(head_client, b"PK\x03\x04", "eleves.xlsx")

    assert response.status_code == 400
    assert "Format non reconnu" in page(response)
    assert not ImportJob.objects.exists()
    assert stored_files(imports_dir) == []


# --- Progress of a running import ---------------------------------------------------------


def _read_progress_elsewhere(job_id) -> object:
    """What the job page, served by another connection, would read now."""
    seen: list[object] = []

    def read() -> None:
        try:
            seen.append(jobs.current_progress(ImportJob.objects.get(pk=job_id)))
        except OperationalError as exc:  # SQLite: the table is locked by the import
            seen.append(f"unreadable ({exc})")
        finally:
            connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(30)
    return seen[0] if seen else "timeout"


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_runs(imports_dir, monkeypatch):
    """The page refreshes every 2 s to show "Import en cours : n / total": the progress
    must be committed as batches are done, not with the whole import at the end."""
    from tests.factories import EstablishmentFactory

    college = EstablishmentFactory(uai=UAI, name="Collège Jean Moulin")
    head = make_head(college, username="principal-progression", quick=True)
    job = jobs.start(
        head,
        college,
        SimpleUploadedFile("ElevesSansAdresses.xml", eleves_xml(PUPILS)),
        None,
        complete=True,
    )
    assert job.status == ImportJob.Status.PREVIEWED
    monkeypatch.setattr(services, "BATCH", 2)
    real_apply = services._apply_batch
    observed: list[object] = []

    def apply_batch(*args, **kwargs):
        observed.append(_read_progress_elsewhere(job.pk))
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(services, "_apply_batch", apply_batch)

    jobs.confirm(head, job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert not transaction.get_connection().in_atomic_block
    assert observed == [0, 2, 4], "progress written inside the import's transaction"
