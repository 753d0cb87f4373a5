"""The import pages' guards: a mass deactivation shown as a warning with its list and
confirmed by typing its count, a short file previewed as partial unless the person says
otherwise, reactivations and homonyms listed apart."""

from __future__ import annotations

import csv
import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from educompte.accounts import authz
from educompte.pupils.models import AccountState, StudentAccount
from educompte.registry.models import ImportJob
from educompte.registry.parsers import CSV_COLUMNS, CsvPupils
from educompte.registry.services import run_import

pytestmark = pytest.mark.django_db


def row(n: int, **extra) -> dict:
    return {
        "id_eleve": f"{5000 + n}",
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


@pytest.fixture
def forty(college, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False
    rows = [row(n) for n in range(40)]
    run_import(authz.OPERATOR, college, CsvPupils(csv_bytes(rows)))
    return rows


@pytest.fixture
def head(quick_head, verified_client_for):
    return verified_client_for(quick_head)


def upload(client, college, rows, *, complete=True) -> tuple[ImportJob, str]:
    form = {"file": SimpleUploadedFile("eleves.csv", csv_bytes(rows))}
    if complete:
        form["complete"] = "on"
    response = client.post(f"/administration/{college.uai}/import/", form)
    assert response.status_code == 302, response.content[:500]
    job = ImportJob.objects.latest("created_at")
    return job, page(client.get(response["Location"]))


def page(response) -> str:
    return html.unescape(response.content.decode())


def deactivated(college) -> int:
    return StudentAccount.objects.filter(
        student__establishment=college, state=AccountState.DEACTIVATED
    ).count()


def test_a_mass_deactivation_is_confirmed_by_typing_its_count(head, college, forty):
    job, text = upload(head, college, forty[:30])
    assert 'id="import-mass-deactivation"' in text
    assert "Cet import va désactiver 10 comptes" in text
    listed = text.split('id="import-list-deactivated"', 1)[1].split("</details>", 1)[0]
    assert listed.startswith(" open")
    assert all(f"Élève{n:03d} Zoé" in listed for n in range(30, 40))
    assert 'name="deactivations"' in text
    confirm = f"/administration/{college.uai}/import/{job.pk}/confirmer/"

    for typed in ("", "9", "dix"):
        response = head.post(confirm, {"confirm": "1", "deactivations": typed})
        assert response.status_code == 400
        assert "Saisissez le nombre de comptes que l'import va désactiver (10)" in page(response)
        job.refresh_from_db()
        assert job.status == ImportJob.Status.PREVIEWED
        assert deactivated(college) == 0

    response = head.post(confirm, {"confirm": "1", "deactivations": " 10 "})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.allowed_deactivations == 10
    assert deactivated(college) == 10


def test_an_ordinary_import_needs_no_count(head, college, forty):
    job, text = upload(head, college, forty[:39])
    assert 'id="import-mass-deactivation"' not in text
    assert 'name="deactivations"' not in text
    head.post(f"/administration/{college.uai}/import/{job.pk}/confirmer/", {"confirm": "1"})
    assert deactivated(college) == 1


def test_a_short_file_is_previewed_as_partial_until_the_person_says_otherwise(head, college, forty):
    job, text = upload(head, college, forty[:10])
    assert not job.complete
    assert job.preview["deactivated"] == 0
    assert 'id="import-far-fewer"' in text
    assert "ne liste que 10 élèves alors que l'établissement compte 40 comptes actifs" in text
    response = head.post(
        f"/administration/{college.uai}/import/{job.pk}/confirmer/", {"as_complete": "1"}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.complete and job.status == ImportJob.Status.PREVIEWED
    text = page(head.get(response["Location"]))
    assert "Cet import va désactiver 30 comptes" in text
    assert deactivated(college) == 0


def test_the_preview_lists_reactivations_and_homonyms_apart(head, college, forty):
    left = [{**r, "date_sortie": "30/11/2026"} if r["id_eleve"] == "5003" else r for r in forty]
    run_import(authz.OPERATOR, college, CsvPupils(csv_bytes(left)))
    twin = row(99, nom="Élève005")
    _job, text = upload(head, college, [*forty, twin])
    assert 'id="import-reactivated"' in text
    assert "Élève003 Zoé — 30/11/2026" in text
    homonyms = text.split('id="import-list-homonym"', 1)[1].split("</details>", 1)[0]
    assert "Élève005 Zoé (6A)" in homonyms
