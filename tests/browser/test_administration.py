"""Administration des comptes in a real browser: the head enrols the second factor,
delegates Dépannage, revokes it; and a registry file goes through upload, preview,
confirmation and report."""

from __future__ import annotations

import base64
import datetime
import re
import time

import pytest
from django.utils import timezone
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from educompte.accounts import authz
from educompte.accounts.services import add_agent
from educompte.demo import siecle
from educompte.demo.services import COLLEGE_UAI, load_demo
from educompte.pupils.models import AccountState, StudentAccount
from educompte.schools.models import Establishment, school_year_of
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

AGENT_LOGIN = "nouvel.agent"
AGENT_PASSWORD = "un mot de passe pour le nouvel agent"


def enrol_second_factor(page: Page) -> None:
    """From the portal: first opening of Administration des comptes leads to enrolment;
    the code is computed from the secret shown on the page, as an authenticator app would."""
    page.get_by_role("link", name="Administration des comptes").click()
    expect(
        page.get_by_role("heading", name="Activer la vérification en deux étapes")
    ).to_be_visible()
    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time()
    page.get_by_label("Code de vérification").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Confirmer").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
    expect(page).to_have_url(re.compile(rf"/administration/{COLLEGE_UAI}/eleves/"))


def test_head_delegates_then_revokes(new_context):
    load_demo()
    college = Establishment.objects.get(uai=COLLEGE_UAI)
    add_agent(
        AGENT_LOGIN,
        password=AGENT_PASSWORD,
        establishment=college,
        role="staff",
        first_name="Nadia",
        last_name="Benali",
        actor=authz.OPERATOR,
    )

    head = new_context().new_page()
    sign_in(head, "principal.demo")
    enrol_second_factor(head)
    head.get_by_role("link", name="Délégations").click()
    until = timezone.localdate() + datetime.timedelta(days=30)
    head.get_by_label("Agent").fill(AGENT_LOGIN)
    head.get_by_label("Droit délégué").select_option("depannage")
    head.get_by_label("Jusqu'au (inclus)").fill(until.isoformat())
    head.get_by_role("button", name="Déléguer").click()
    expect(head.get_by_text(f"jusqu'au {until:%d/%m/%Y}")).to_be_visible()
    row = head.locator("tr", has_text=AGENT_LOGIN)
    expect(row).to_contain_text("Dépannage des comptes élèves")

    agent = new_context().new_page()
    sign_in(agent, AGENT_LOGIN, AGENT_PASSWORD)
    agent.get_by_role("link", name="Dépannage des comptes élèves").click()
    agent.get_by_label("Nom, prénom ou identifiant").fill("lefevre")
    agent.get_by_role("button", name="Rechercher").click()
    zoe = agent.locator("#pupils-table tbody tr", has_text="N'Guyen-Lefèvre")
    zoe.get_by_role("link", name="Réinitialiser le mot de passe").click()
    agent.get_by_role("button", name="Confirmer").click()
    password = agent.locator("#reset-banner [data-password]").inner_text().strip()
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}", password)
    console_url = agent.url

    row.get_by_role("button", name=re.compile("Révoquer")).click()
    expect(head.get_by_text("elle cesse immédiatement")).to_be_visible()

    response = agent.goto(console_url)
    assert response is not None and response.status == 403
    expect(agent.get_by_role("heading", name="Accès non autorisé")).to_be_visible()
    agent.goto("/portail/")
    expect(agent.get_by_role("link", name="Dépannage des comptes élèves")).to_have_count(0)


def test_registry_upload_preview_confirm_report(new_context, settings, tmp_path):
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False  # the live server shares the test DB
    settings.VAR_DIR = tmp_path
    load_demo()
    year = school_year_of(timezone.localdate())
    newcomers = [
        {
            "id": "990001",
            "ine": "1234567890A",
            "last_name": "Lebœuf",
            "first_name": "Noé",
            "birth_date": datetime.date(2012, 5, 2),
            "mef": "10210001110",
            "division": "4B",
            "groups": ["4ANGL1"],
        },
        {
            "id": "990002",
            "ine": "1234567891B",
            "last_name": "D'Hérouville",
            "first_name": "Inès",
            "birth_date": datetime.date(2012, 9, 30),
            "mef": "10210001110",
            "division": "4B",
            "groups": [],
        },
    ]
    upload = tmp_path / "ElevesSansAdresses.xml"
    upload.write_bytes(siecle.eleves_xml(COLLEGE_UAI, year, newcomers))

    page = new_context().new_page()
    sign_in(page, "principal.demo")
    enrol_second_factor(page)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Fichier de la base élèves").set_input_files(str(upload))
    page.get_by_label(re.compile("Export complet")).uncheck(force=True)
    page.get_by_role("button", name="Vérifier le fichier").click()
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("2 nouveaux")
    assert not StudentAccount.objects.filter(student__registry_id="990001").exists()

    page.get_by_role("button", name="Confirmer l'import").click()
    expect(page.get_by_text("Import terminé")).to_be_visible()
    expect(page.locator("#import-counts")).to_contain_text("2 nouveaux")
    page.get_by_role("link", name="Voir les élèves dans Dépannage").click()
    # A name the demo does not use.
    page.get_by_label("Nom, prénom ou identifiant").fill("herouville")
    page.get_by_role("button", name="Rechercher").click()
    row = page.locator("#pupils-table tbody tr", has_text="D'Hérouville")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Non activé - non informé")
    account = StudentAccount.objects.get(student__registry_id="990002")
    assert account.state == AccountState.NOT_INFORMED
    expect(row).to_contain_text(account.identifier)
