"""Issue 11 in a real browser: the head of the lycée (0380002W) uploads a file carrying the
INE of an activated pupil of the college (0380001V). The pupil stays at the college,
untouched; the college's head sees the request in *Transferts* and refuses it."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from educompte.demo.services import COLLEGE_UAI, LYCEE_UAI, load_demo
from educompte.pupils.models import AccountState, StudentAccount
from educompte.registry.models import TransferRequest
from tests.browser.helpers import sign_in
from tests.registry_helpers import csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def open_administration(page: Page, uai: str) -> None:
    """Portal → Administration des comptes, enrolling the second factor on the way (the
    code computed from the secret shown, as an authenticator app would)."""
    page.get_by_role("link", name="Administration des comptes").click()
    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    totp.time = time.time()
    page.get_by_label("Code de vérification").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Confirmer").click()
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
    expect(page).to_have_url(re.compile(rf"/administration/{uai}/eleves/"))


def state(account: StudentAccount) -> tuple:
    account = StudentAccount.objects.select_related("user", "student__establishment").get(
        pk=account.pk
    )
    return (
        account.student.establishment.uai,
        account.user.username,
        account.user.password,
        account.state,
    )


def test_a_lycee_file_cannot_take_a_college_pupil(new_context, settings, tmp_path):
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False  # the live server shares the test DB
    settings.VAR_DIR = tmp_path
    load_demo()
    victim = (
        StudentAccount.objects.select_related("student", "user")
        .filter(
            student__establishment__uai=COLLEGE_UAI,
            state=AccountState.ACTIVE,
            student__ine__isnull=False,
        )
        .order_by("pk")
        .first()
    )
    before = state(victim)
    upload = tmp_path / "eleves.csv"
    row = {
        "id_eleve": "777001",
        "ine": victim.student.ine,
        "nom": "Pirate",
        "prenom": "Jean",
        "date_naissance": "01/01/2010",
        "classe": "2NDE1",
    }
    upload.write_bytes(csv_bytes([row]))

    lycee = new_context().new_page()
    sign_in(lycee, "principal2.demo")
    open_administration(lycee, LYCEE_UAI)
    lycee.get_by_role("link", name="Import").click()
    lycee.get_by_label("Fichier de la base élèves").set_input_files(str(upload))
    lycee.get_by_label(re.compile("Export complet")).uncheck(force=True)
    lycee.get_by_role("button", name="Vérifier le fichier").click()
    # The preview reads as for any unknown pupil: nothing about the college.
    expect(lycee.locator("#import-counts")).to_contain_text("1 nouveau")
    expect(lycee.locator("#import-transfer-note")).to_contain_text("demande de transfert")
    expect(lycee.locator("main")).not_to_contain_text(victim.student.last_name)
    lycee.get_by_role("button", name="Confirmer l'import").click()
    expect(lycee.get_by_text("Import terminé")).to_be_visible()
    expect(lycee.locator("#import-transfers")).to_contain_text("1 en attente de transfert")
    expect(lycee.locator("#import-counts")).to_contain_text("0 nouveau")
    main = lycee.locator("main")
    for secret in (victim.student.last_name, victim.user.username, "Jean Moulin"):
        expect(main).not_to_contain_text(secret)
    assert state(victim) == before
    assert TransferRequest.objects.get().state == TransferRequest.State.PENDING

    college = new_context().new_page()
    sign_in(college, "principal.demo")
    expect(college.get_by_text("1 demande de transfert en attente")).to_be_visible()
    open_administration(college, COLLEGE_UAI)
    college.get_by_role("link", name="Transferts").click()
    request_row = college.locator("#transfers-pending tbody tr", has_text=victim.user.username)
    expect(request_row).to_contain_text(victim.student.last_name)
    expect(request_row).to_contain_text(LYCEE_UAI)
    request_row.get_by_role("button", name=re.compile("^Refuser")).click()
    expect(college.get_by_text("Transfert refusé")).to_be_visible()
    expect(college.locator("#transfers-pending")).to_contain_text("Aucune demande en attente")
    assert state(victim) == before
    assert TransferRequest.objects.get().state == TransferRequest.State.REFUSED
