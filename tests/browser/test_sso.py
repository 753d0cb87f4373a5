"""Single sign-on in a real browser: ENT démo, the demo service, signs a pupil in with
Educompte; a pupil whose password is provisional activates the account on the way."""

from __future__ import annotations

import datetime
import re

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Page, expect

from educompte.accounts import authz
from educompte.demo.services import ensure_demo_service
from educompte.pupils.models import AccountState, StudentAccount
from educompte.schools.models import Division, Establishment, Mef, school_year_of
from educompte.sso import services as sso_services
from tests.factories import make_pupil

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

NEW_PASSPHRASE = "quatre chevaux bleus sous la pluie"
# See tests/browser/test_journey.py: a known DSFR header error, tolerated there too.
KNOWN_DSFR_HEADER_ERROR = "Cannot read properties of null (reading 'innerHTML')"


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_page_error(exc) -> None:
        if exc.message == KNOWN_DSFR_HEADER_ERROR and "dsfr.module.min.js" in (exc.stack or ""):
            return
        errors.append(f"pageerror on {page.url}: {exc.stack or exc}")

    page.on("pageerror", on_page_error)
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    return errors


def pupil_with_provisional_password() -> tuple[StudentAccount, str]:
    college = Establishment.objects.create(uai="0380001V", name="Collège Jean Moulin")
    division = Division.objects.create(
        establishment=college, code="3A", school_year=school_year_of(datetime.date.today())
    )
    mef = Mef.objects.create(code="10310019110", label="3EME")
    return make_pupil(college, division=division, mef=mef, state=AccountState.INFORMED)


def test_demo_service_pupil_activates_mid_flow_and_comes_back(
    new_context, live_server, screenshots
):
    account, provisional = pupil_with_provisional_password()
    ensure_demo_service([live_server.url])

    page = new_context().new_page()
    errors = collect_errors(page)
    page.goto("/demo-service/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue sur ENT démo")
    page.get_by_role("button", name="Se connecter avec Educompte").click()

    # Educompte's pupil sign-in, holding the service's authorisation request.
    expect(page).to_have_url(re.compile(r"/connexion/\?next=(/|%2F)oidc(/|%2F)authorize"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion élève")
    page.get_by_label("Identifiant").fill(account.identifier)
    page.get_by_label("Mot de passe").fill(provisional)
    page.get_by_role("button", name="Se connecter").click()

    # The provisional password leads to activation first.
    expect(page).to_have_url(re.compile(r"/connexion/activation/$"))
    page.get_by_label(re.compile(r"^\s*Nouveau mot de passe")).fill(NEW_PASSPHRASE)
    page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSPHRASE)
    page.get_by_label("Date de naissance").fill("2011-03-14")
    page.get_by_role("button", name="Activer mon compte").click()

    # Then straight back to the service, which shows what it received.
    expect(page).to_have_url(re.compile(r"/demo-service/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Zoé")
    main = page.locator("main")
    expect(main).to_contain_text("Jeton d'identité (ID token), signature vérifiée")
    for claim, value in (
        ("given_name", "Zoé"),
        ("family_name", "N'Guyen-Lefèvre"),
        ("educompte_profile", "eleve2d"),
        ("educompte_uai", "0380001V"),
        ("educompte_class", "3A"),
        ("educompte_mef", "3EME"),
        ("aud", "ent-demo"),
    ):
        expect(main.locator("tr", has_text=claim).first).to_contain_text(value)
    expect(main).not_to_contain_text(account.identifier)  # pairwise sub, not the login
    page.screenshot(path=str(screenshots / "sso-demo-service.png"), full_page=True)
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE

    # Leaving the service: Educompte asks before ending its own session (POST), then
    # sends the pupil back to the service.
    page.get_by_role("button", name="Se déconnecter d'ENT démo").click()
    expect(page).to_have_url(re.compile(r"/oidc/logout/\?"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Se déconnecter d'Educompte ?")
    page.locator("main").get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/demo-service/(\?state=[^&]+)?$"))
    expect(page.get_by_role("button", name="Se connecter avec Educompte")).to_be_visible()
    page.goto("/mes-services/")
    expect(page).to_have_url(re.compile(r"/connexion/"))  # signed out of Educompte too
    assert errors == [], errors


def test_sign_in_form_may_end_at_a_service_on_another_origin(new_context, live_server):
    """Chromium applies CSP form-action to the redirects that follow a form: the sign-in
    POST -> authorisation -> service callback on another origin must not be blocked."""
    account, _provisional = pupil_with_provisional_password()
    account.state = AccountState.ACTIVE
    account.user.set_password(NEW_PASSPHRASE)
    account.user.save()
    account.save()
    provider = live_server.url  # http://localhost:PORT
    elsewhere = provider.replace("localhost", "127.0.0.1") + "/ailleurs/callback"
    assert elsewhere.split("/")[2] != provider.split("/")[2]
    registered = sso_services.register_service(
        "ENT ailleurs", [elsewhere], "openid", by=authz.OPERATOR
    )
    client = OAuth2Session(
        registered.service.application.client_id,
        registered.client_secret,
        scope="openid",
        redirect_uri=elsewhere,
        code_challenge_method="S256",
    )
    url, _state = client.create_authorization_url(
        f"{provider}/oidc/authorize/", code_verifier=generate_token(48), nonce=generate_token(20)
    )

    page = new_context().new_page()
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/connexion/\?next="))
    page.get_by_label("Identifiant").fill(account.identifier)
    page.get_by_label("Mot de passe").fill(NEW_PASSPHRASE)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(re.escape(elsewhere) + r"\?code=[^&]+"))
