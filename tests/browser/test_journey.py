"""The Dépannage journey in a real browser, on the demonstration data set.

A school staff member signs in to the portal, opens Dépannage, finds a pupil and resets
their password; the pupil then signs in with it and activates the account.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from educompte.demo.services import COLLEGE_UAI, DEMO_PASSWORD, load_demo
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PASSWORD_RE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}$")
PUPILS_URL = f"/depannage/{COLLEGE_UAI}/eleves/"
NEW_PASSPHRASE = "quatre chevaux bleus sous la pluie"


# Known application bug, reported rather than hidden: base.html's header has a
# ``.fr-header__tools-links`` block but no ``.fr-header__menu-links`` (the mobile menu), so
# DSFR's HeaderLinks.init() dereferences null on every page. It does not stop the other
# components (the modal below still has to open), so only this exact error is tolerated.
def collect_errors(page: Page) -> list[str]:
    """JavaScript errors and console errors (CSP violations, failed scripts) of ``page``."""
    errors: list[str] = []

    def on_page_error(exc) -> None:
        errors.append(f"pageerror on {page.url}: {exc.stack or exc}")

    page.on("pageerror", on_page_error)

    def on_console(msg) -> None:
        if msg.type == "error":
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    return errors


def staff_sign_in(page: Page, username: str, start: str = "/portail/") -> None:
    page.goto(start)
    expect(page).to_have_url(re.compile(r"/portail/connexion/"))
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def search(page: Page, text: str) -> None:
    page.get_by_label("Nom, prénom ou identifiant").fill(text)
    page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(text)))


def zoe_row(page: Page):
    rows = page.locator("#pupils-table tbody tr").filter(has_text="N'Guyen-Lefèvre")
    expect(rows).to_have_count(1)
    return rows.first


def column(page: Page, row, header: str):
    """The cell of ``row`` under the column headed ``header``."""
    headers = [h.strip() for h in page.locator("#pupils-table thead th").all_inner_texts()]
    return row.locator("td").nth(headers.index(header))


def zoe_account() -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(
        student__establishment__uai=COLLEGE_UAI,
        student__first_name="Zoé",
        student__last_name="N'Guyen-Lefèvre",
    )


def test_reset_then_pupil_activates(new_context, screenshots):
    demo = load_demo()
    old_password = demo.zoe_password
    assert old_password and PASSWORD_RE.match(old_password)

    # --- The staff member: portal, Dépannage, search, reset through the modal -------------
    staff = new_context().new_page()
    errors = collect_errors(staff)
    staff_sign_in(staff, "vie-scolaire.demo")
    expect(staff).to_have_url(re.compile(r"/portail/$"))
    expect(staff.get_by_role("heading", level=1)).to_have_text("Portail des personnels")
    expect(staff.get_by_text("Accès refusé")).to_have_count(0)
    expect(staff.get_by_text("Accès non autorisé")).to_have_count(0)
    app = staff.get_by_role("link", name="Dépannage des comptes élèves")
    expect(app).to_have_count(1)
    staff.screenshot(path=str(screenshots / "portal.png"), full_page=True)

    app.click()
    expect(staff).to_have_url(re.compile(re.escape(PUPILS_URL) + "$"))
    expect(staff.get_by_role("heading", level=1)).to_have_text("Dépannage des comptes élèves")

    search(staff, "lefevre")
    row = zoe_row(staff)
    expect(column(staff, row, "Classe")).to_have_text("3A")
    expect(column(staff, row, "État du compte")).to_have_text("Non activé - informé")
    expect(column(staff, row, "Mot de passe")).to_contain_text(old_password)

    list_url = staff.url
    row.get_by_role("link", name="Réinitialiser le mot de passe").click()
    modal = staff.locator("#reset-modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text(
        "Êtes-vous sûr de vouloir réinitialiser le mot de passe de ce compte ?"
    )
    expect(modal.locator("#reset-modal-pupil")).to_have_text("Zoé N'Guyen-Lefèvre")
    assert staff.url == list_url  # the modal, not the confirmation page
    modal.get_by_role("button", name="Confirmer").click()

    banner = staff.locator("#reset-banner")
    expect(banner).to_be_visible()
    identifier = banner.locator("[data-identifier]").inner_text().strip()
    new_password = banner.locator("[data-password]").inner_text().strip()
    assert identifier == demo.zoe_identifier
    assert PASSWORD_RE.match(new_password), new_password
    assert new_password != old_password
    expect(banner).to_contain_text("Zoé N'Guyen-Lefèvre")
    # Back on the same search, and the table shows the new password too.
    expect(staff).to_have_url(re.compile(r"[?&]q=lefevre"))
    expect(column(staff, zoe_row(staff), "Mot de passe")).to_contain_text(new_password)
    staff.screenshot(path=str(screenshots / "console-banner.png"), full_page=True)

    account = zoe_account()
    assert account.state == AccountState.INFORMED
    assert services.provisional_password(account) == new_password

    # --- The previous provisional password is refused at once -----------------------------
    other = new_context().new_page()
    other.goto("/connexion/")
    other.get_by_label("Identifiant").fill(identifier)
    other.get_by_label("Mot de passe").fill(old_password)
    other.get_by_role("button", name="Se connecter").click()
    expect(other.get_by_role("alert")).to_contain_text("Identifiant ou mot de passe incorrect")
    expect(other).to_have_url(re.compile(r"/connexion/$"))
    expect(other.get_by_role("heading", level=1)).to_have_text("Connexion élève")

    # --- The pupil, in a browser context of their own --------------------------------------
    pupil = new_context().new_page()
    pupil_errors = collect_errors(pupil)
    pupil.goto("/connexion/")
    pupil.get_by_label("Identifiant").fill(identifier)
    pupil.get_by_label("Mot de passe").fill(new_password)
    pupil.get_by_role("button", name="Se connecter").click()
    expect(pupil).to_have_url(re.compile(r"/connexion/activation/$"))
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Activer mon compte")
    pupil.screenshot(path=str(screenshots / "activation.png"), full_page=True)

    pupil.get_by_label(re.compile(r"^\s*Nouveau mot de passe")).fill(NEW_PASSPHRASE)
    pupil.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSPHRASE)
    pupil.get_by_label("Date de naissance").fill("2011-03-14")
    pupil.get_by_role("button", name="Activer mon compte").click()
    expect(pupil).to_have_url(re.compile(r"/mes-services/$"))
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Mes services")
    expect(pupil.locator("main")).to_contain_text(identifier)

    account = zoe_account()
    assert account.state == AccountState.ACTIVE
    assert account.provisional_password_encrypted is None

    # --- The staff member sees the account activated, with no password shown -------------
    search(staff, "lefevre")
    row = zoe_row(staff)
    expect(column(staff, row, "État du compte")).to_have_text("Activé")
    expect(column(staff, row, "Mot de passe")).to_have_text("")
    expect(staff.locator("#reset-banner")).to_have_count(0)

    # --- Only the chosen passphrase opens the account now ----------------------------------
    assert services.sign_in_pupil(identifier, old_password).outcome is services.SignIn.FAILED
    assert services.sign_in_pupil(identifier, new_password).outcome is services.SignIn.FAILED
    assert services.sign_in_pupil(identifier, NEW_PASSPHRASE).outcome is services.SignIn.OK

    assert errors == [], errors
    assert pupil_errors == [], pupil_errors


def test_bulk_reset_of_a_class(new_context):
    load_demo()
    page = new_context().new_page()
    errors = collect_errors(page)
    staff_sign_in(page, "principal.demo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Portail des personnels")
    page.get_by_role("link", name="Dépannage des comptes élèves").click()
    expect(page).to_have_url(re.compile(re.escape(PUPILS_URL) + "$"))

    page.get_by_label("Classe", exact=True).select_option(label="3B")
    page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(re.compile(r"[?&]classe=\d+"))

    in_class = StudentAccount.objects.filter(
        student__establishment__uai=COLLEGE_UAI, student__division__code="3B"
    )
    expected = set(
        in_class.exclude(state=AccountState.DEACTIVATED).values_list("user__username", flat=True)
    )
    deactivated = in_class.filter(state=AccountState.DEACTIVATED).count()
    assert len(expected) > 1
    rows = page.locator("#pupils-table tbody tr")
    expect(rows).to_have_count(in_class.count())
    expect(page.locator("#result-count")).to_contain_text(str(in_class.count()))

    boxes = page.locator("input.ec-row-select")
    expect(boxes.first).not_to_be_checked()
    page.get_by_label("Sélectionner toute la page").check()
    for i in range(boxes.count()):
        expect(boxes.nth(i)).to_be_checked()
    page.get_by_role("button", name="Réinitialiser la sélection").click()

    expect(page).to_have_url(re.compile(r"/eleves/reinitialiser-selection/$"))
    expect(page.get_by_role("heading", name="Réinitialiser les mots de passe")).to_be_visible()
    listed = page.locator("main li").filter(has_text=" — 3B — ")
    expect(listed).to_have_count(in_class.count())
    expect(page.locator("main")).to_contain_text(f"ces {in_class.count()} comptes")
    page.get_by_role("button", name="Confirmer").click()

    expect(page).to_have_url(re.compile(r"/eleves/resultat/[^/]+/$"))
    expect(page.get_by_role("heading", name="Nouveaux mots de passe provisoires")).to_be_visible()
    result_rows = page.locator("main table tbody tr")
    expect(result_rows).to_have_count(len(expected))
    shown = {}
    for i in range(result_rows.count()):
        cells = result_rows.nth(i).locator("td")
        expect(cells.nth(1)).to_have_text("3B")
        password = cells.nth(3).inner_text().strip()
        assert PASSWORD_RE.match(password), password
        shown[cells.nth(2).inner_text().strip()] = password
    assert set(shown) == expected
    if deactivated:
        expect(page.locator("main")).to_contain_text("Comptes désactivés non réinitialisés")

    # What the page shows is what the database now holds.
    for account in in_class.select_related("user").exclude(state=AccountState.DEACTIVATED):
        assert account.state == AccountState.INFORMED
        assert services.provisional_password(account) == shown[account.identifier]
    assert errors == [], errors


def test_reset_without_javascript(new_context):
    demo = load_demo()
    page = new_context(java_script_enabled=False).new_page()
    staff_sign_in(page, "vie-scolaire.demo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Portail des personnels")
    page.get_by_role("link", name="Dépannage des comptes élèves").click()
    search(page, "lefevre")

    zoe_row(page).get_by_role("link", name="Réinitialiser le mot de passe").click()
    account = zoe_account()
    expect(page).to_have_url(
        re.compile(re.escape(f"{PUPILS_URL}{account.pk}/reinitialiser/") + r"\?back=")
    )
    expect(page.locator("#reset-modal")).to_have_count(0)
    expect(page.locator("main")).to_contain_text(
        "Êtes-vous sûr de vouloir réinitialiser le mot de passe de ce compte ?"
    )
    expect(page.locator("main")).to_contain_text(demo.zoe_identifier)
    page.get_by_role("button", name="Confirmer").click()

    expect(page).to_have_url(re.compile(re.escape(PUPILS_URL) + r"\?.*q=lefevre"))
    banner = page.locator("#reset-banner")
    expect(banner).to_be_visible()
    expect(banner.locator("[data-identifier]")).to_have_text(demo.zoe_identifier)
    new_password = banner.locator("[data-password]").inner_text().strip()
    assert PASSWORD_RE.match(new_password), new_password
    assert new_password != demo.zoe_password
    assert services.provisional_password(zoe_account()) == new_password


def test_other_establishment_is_refused(new_context):
    demo = load_demo()
    zoe = zoe_account()
    page = new_context().new_page()
    staff_sign_in(page, "principal2.demo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Portail des personnels")
    expect(page.locator("main")).not_to_contain_text(COLLEGE_UAI)

    for url in (
        f"{PUPILS_URL}?q=lefevre",
        PUPILS_URL,
        f"{PUPILS_URL}{zoe.pk}/reinitialiser/",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 403, url
        expect(page.get_by_role("heading", level=1)).to_have_text("Accès non autorisé")
        body = page.locator("body")
        expect(body).not_to_contain_text("N'Guyen")
        expect(body).not_to_contain_text(demo.zoe_identifier)
        expect(body).not_to_contain_text(demo.zoe_password)
        expect(page.locator("#pupils-table")).to_have_count(0)

    # Forging the reset form (with a valid CSRF token of this session) is refused as well.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{PUPILS_URL}{zoe.pk}/reinitialiser/",
        form={"csrfmiddlewaretoken": csrf, "back": ""},
        max_redirects=0,
    )
    assert response.status == 403
    assert "ce droit sur cet établissement" in response.text()  # the access rule, not CSRF
    assert demo.zoe_identifier not in response.text()
    assert services.provisional_password(zoe_account()) == demo.zoe_password
