"""Password recovery in a real browser, on the demonstration data set.

A pupil with a confirmed address recovers through the link read from the mail; a pupil
without one asks the school, and a staff member handles the request in Dépannage.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from educompte.demo.services import COLLEGE_UAI, DEMO_PASSWORD, load_demo
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "locmem_mail")]

NEW_PASSPHRASE = "quatre chevaux bleus sous la pluie"
ADDRESS = "famille.eleve@example.org"
PASSWORD_RE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}$")


# base.html has no mobile menu links, so DSFR's HeaderLinks.init() dereferences null on
# every page (see test_journey.py); only that exact error is tolerated.
def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_page_error(exc) -> None:
        errors.append(f"pageerror on {page.url}: {exc.stack or exc}")

    page.on("pageerror", on_page_error)
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
    return errors


def pupil_sign_in(page: Page, identifier: str, password: str) -> None:
    page.goto("/connexion/")
    page.get_by_label("Identifiant").fill(identifier)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def test_pupil_with_a_confirmed_address_recovers_through_the_mailed_link(new_context):
    load_demo()
    account = (
        StudentAccount.objects.select_related("user")
        .filter(student__establishment__uai=COLLEGE_UAI, state=AccountState.ACTIVE)
        .order_by("pk")
        .first()
    )
    StudentAccount.objects.filter(pk=account.pk).update(email=ADDRESS, email_confirmed=True)
    identifier = account.identifier

    page = new_context().new_page()
    errors = collect_errors(page)
    page.goto("/connexion/")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(page).to_have_url(re.compile(r"/connexion/mot-de-passe-oublie/$"))
    page.get_by_label("Identifiant ou adresse électronique").fill(ADDRESS)
    page.get_by_role("button", name="Recevoir un lien").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre messagerie")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [ADDRESS]
    links = re.findall(r"https?://\S+", message.body)
    assert len(links) == 1, message.body

    page.goto(links[0])
    # The token left the address bar (and so the Referer of the next requests).
    expect(page).to_have_url(re.compile(r"/connexion/reinitialiser/[^/]+/nouveau-mot-de-passe/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    expect(page.locator("main")).to_contain_text(identifier)
    page.get_by_label(re.compile(r"^\s*Nouveau mot de passe")).fill(NEW_PASSPHRASE)
    page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSPHRASE)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(re.compile(r"/connexion/$"))
    expect(page.locator("body")).to_contain_text("Votre mot de passe est changé")

    pupil_sign_in(page, identifier, NEW_PASSPHRASE)
    expect(page).to_have_url(re.compile(r"/mes-services/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes services")
    expect(page.locator("main")).to_contain_text(identifier)

    # The link served once; the demo password no longer works.
    again = new_context().new_page()
    again.goto(links[0])
    expect(again.get_by_role("heading", level=1)).to_have_text("Ce lien n'est plus valable")
    outcome = services.sign_in_pupil(identifier, DEMO_PASSWORD).outcome
    assert outcome is services.SignIn.FAILED
    assert errors == [], errors


def test_pupil_without_an_address_asks_the_school(new_context):
    demo = load_demo()
    identifier = demo.zoe_identifier

    # --- The pupil files a request ---------------------------------------------------------
    pupil = new_context().new_page()
    pupil_errors = collect_errors(pupil)
    pupil.goto("/connexion/")
    pupil.get_by_role("link", name="Mot de passe oublié ?").click()
    pupil.get_by_role("link", name="Demander à mon établissement").click()
    expect(pupil).to_have_url(re.compile(r"/connexion/demande-etablissement/$"))
    pupil.get_by_label("Identifiant (si vous le connaissez)").fill(identifier)
    pupil.get_by_label("Classe").fill("3A")
    pupil.get_by_label("Message (facultatif)").fill("J'ai oublié mon mot de passe.")
    pupil.get_by_role("button", name="Envoyer la demande").click()
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Demande envoyée")
    assert SupportRequest.objects.filter(status=SupportRequest.Status.OPEN).count() == 1

    # --- The staff member sees it and resets the password ----------------------------------
    staff = new_context().new_page()
    staff_errors = collect_errors(staff)
    staff.goto("/portail/")
    staff.get_by_label("Identifiant").fill("vie-scolaire.demo")
    staff.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    staff.get_by_role("button", name="Se connecter").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Portail des personnels")
    expect(staff.locator("main")).to_contain_text("1 demande d'élève en attente")
    staff.get_by_role("link", name="Dépannage des comptes élèves").click()
    staff.get_by_role("link", name=re.compile(r"^Demandes")).click()
    expect(staff).to_have_url(re.compile(rf"/depannage/{COLLEGE_UAI}/demandes/$"))

    rows = staff.locator("#requests-table tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("N'Guyen-Lefèvre Zoé")
    expect(row).to_contain_text(identifier)
    expect(row).to_contain_text("J'ai oublié mon mot de passe.")
    row.get_by_role("button", name=re.compile(r"^Réinitialiser le mot de passe")).click()

    banner = staff.locator("#reset-banner")
    expect(banner).to_be_visible()
    expect(banner.locator("[data-identifier]")).to_have_text(identifier)
    new_password = banner.locator("[data-password]").inner_text().strip()
    assert PASSWORD_RE.match(new_password), new_password
    assert new_password != demo.zoe_password
    expect(staff.locator("#requests-table")).to_contain_text("Aucune demande en attente")
    request = SupportRequest.objects.get()
    assert request.status == SupportRequest.Status.HANDLED
    assert request.handled_by.username == "vie-scolaire.demo"

    # --- The pupil signs in with it and lands on the activation page -----------------------
    pupil_sign_in(pupil, identifier, new_password)
    expect(pupil).to_have_url(re.compile(r"/connexion/activation/$"))
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Activer mon compte")
    assert pupil_errors == [], pupil_errors
    assert staff_errors == [], staff_errors
