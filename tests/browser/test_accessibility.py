"""Every page of the pupil, staff, academy and single sign-on journeys passes axe-core
(WCAG 2.1 A/AA rules) with no violation, on a desktop screen and on a 390 px phone, and
no page scrolls horizontally on the phone."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Page

from educompte.accounts.models import User
from educompte.demo.services import COLLEGE_UAI, load_demo
from educompte.pupils.models import AccountState, StudentAccount
from tests.helpers import signed_in_client, verified_client

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
AXE = Axe()


def _pages() -> dict[str, list[str]]:
    """The pages of each kind of visitor (``None``: anonymous)."""
    zoe_like = StudentAccount.objects.filter(
        student__establishment__uai=COLLEGE_UAI, state=AccountState.INFORMED
    ).first()
    return {
        "anonymous": [
            "/",
            reverse("pupil:login"),
            reverse("pupil:forgot"),
            reverse("pupil:ask_school"),
            reverse("portal:login"),
            reverse("portal:forgot"),
            reverse("accessibility"),
            reverse("legal_notice"),
            reverse("personal_data"),
            "/nulle-part/",
            reverse("demo_service:home"),
        ],
        "pupil": [reverse("pupil:services"), reverse("pupil:account")],
        "staff": [
            reverse("portal:index"),
            reverse("portal:account"),
            reverse("depannage:pupils", args=[COLLEGE_UAI]),
            reverse("depannage:requests", args=[COLLEGE_UAI]),
            reverse("depannage:reset", args=[COLLEGE_UAI, zoe_like.pk]),
        ],
        "head_unverified": [reverse("otp:enrol")],
        "head": [
            reverse("administration:pupils", args=[COLLEGE_UAI]),
            reverse("administration:activation", args=[COLLEGE_UAI]),
            reverse("administration:letters", args=[COLLEGE_UAI]),
            reverse("administration:import", args=[COLLEGE_UAI]),
            reverse("administration:transfers", args=[COLLEGE_UAI]),
            reverse("administration:staff", args=[COLLEGE_UAI]),
            reverse("administration:delegations", args=[COLLEGE_UAI]),
            reverse("administration:journal", args=[COLLEGE_UAI]),
            reverse("otp:verify"),
        ],
        "academy": [
            reverse("academy:index"),
            reverse("academy:establishment", args=[COLLEGE_UAI]),
            reverse("academy:agents"),
            reverse("academy:services"),
        ],
    }


def _sessions() -> dict[str, str | None]:
    active = User.objects.filter(
        student_account__state=AccountState.ACTIVE,
        student_account__student__establishment__uai=COLLEGE_UAI,
    ).first()
    clients = {
        "anonymous": None,
        "pupil": signed_in_client(active),
        "staff": signed_in_client(User.objects.get(username="vie-scolaire.demo")),
        "head_unverified": signed_in_client(User.objects.get(username="principal.demo")),
        "head": verified_client(User.objects.get(username="principal.demo")),
        "academy": verified_client(User.objects.get(username="academie.demo")),
    }
    return {
        who: client.cookies[settings.SESSION_COOKIE_NAME].value if client else None
        for who, client in clients.items()
    }


def _problems(page: Page, url: str, phone: bool) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status in (200, 404), (url, response.status)
    return _problems_here(page, url, phone)


def _problems_here(page: Page, url: str, phone: bool) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is, and on a phone whether it
    scrolls horizontally."""
    found = []
    for violation in AXE.run(page, options=WCAG).response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        found.append(f"{url}: {violation['id']} ({violation['impact']}) {targets}")
    if phone:
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            # The innermost elements sticking out on the right, to say where to look.
            culprits = page.evaluate(
                """() => {
                  const width = document.documentElement.clientWidth;
                  const sticks = e => e.getBoundingClientRect().right > width + 1;
                  const clipped = e => {
                    for (let a = e.parentElement; a; a = a.parentElement) {
                      if (['auto', 'scroll', 'hidden', 'clip'].includes(
                        getComputedStyle(a).overflowX)) return true;
                    }
                    return false;
                  };
                  const all = [...document.querySelectorAll('body *')].filter(
                    e => sticks(e) && !clipped(e));
                  const out = all.filter(e => !all.some(o => o !== e && e.contains(o)));
                  return out.slice(0, 3).map(e => e.tagName.toLowerCase()
                    + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'));
                }"""
            )
            found.append(
                f"{url}: the page scrolls horizontally by {overflow} px at 390 px {culprits}"
            )
    return found


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_passes_axe_and_fits(new_context, live_server, viewport):
    load_demo()
    sessions = _sessions()
    problems = []
    for who, urls in _pages().items():
        context = new_context(viewport=viewport)
        if sessions[who]:
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": sessions[who],
                        "url": live_server.url,
                    }
                ]
            )
        page = context.new_page()
        for url in urls:
            problems += _problems(page, url, phone=viewport is PHONE)
    assert not problems, "\n".join(problems)


def test_the_activation_page_passes_axe_and_fits(new_context):
    summary = load_demo()
    for viewport in (DESKTOP, PHONE):
        page = new_context(viewport=viewport).new_page()
        page.goto(reverse("pupil:login"))
        page.get_by_label("Identifiant").fill(summary.zoe_identifier)
        page.get_by_label("Mot de passe").fill(summary.zoe_password)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url("**/connexion/activation/")
        problems = _problems(page, reverse("pupil:activate"), phone=viewport is PHONE)
        assert not problems, "\n".join(problems)


def _with_session(context, live_server, session: str) -> None:
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_single_sign_on_pages_pass_axe_and_fit(new_context, live_server, viewport):
    """A signed-in pupil opens the demo service, signs in through Educompte, signs out
    (Educompte's confirmation page); an agent is refused the services."""
    from educompte.demo.services import ensure_demo_service

    load_demo()
    ensure_demo_service([live_server.url])
    sessions = _sessions()
    phone = viewport is PHONE
    problems = []

    pupil = new_context(viewport=viewport)
    _with_session(pupil, live_server, sessions["pupil"])
    page = pupil.new_page()
    page.goto("/demo-service/")
    page.get_by_role("button", name="Se connecter avec Educompte").click()
    page.wait_for_url("**/demo-service/")
    page.get_by_role("heading", name=re.compile("^Bonjour")).wait_for()
    problems += _problems_here(page, "demo service, signed in", phone)
    page.get_by_role("button", name="Se déconnecter d'ENT démo").click()
    page.wait_for_url("**/oidc/logout/**")
    problems += _problems_here(page, "Educompte's sign-out confirmation", phone)

    agent = new_context(viewport=viewport)
    _with_session(agent, live_server, sessions["staff"])
    page = agent.new_page()
    page.goto("/demo-service/")
    page.get_by_role("button", name="Se connecter avec Educompte").click()
    page.wait_for_load_state()
    assert "/oidc/authorize/" in page.url, page.url
    problems += _problems_here(page, "services refused to an agent", phone)
    assert not problems, "\n".join(problems)
