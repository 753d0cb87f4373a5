"""Security properties of the web layer: CSP, sessions, secrets in pages and logs, labelled
sign-in fields, open redirects and account enumeration."""

from __future__ import annotations

import datetime
import re
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.backends import db as db_sessions
from django.contrib.sessions.models import Session
from django.urls import reverse

from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from tests.factories import AGENT_PASSWORD, AgentFactory, make_pupil
from tests.helpers import assert_nowhere_in_audit, new_client, signed_in
from tests.html_helpers import error_alerts, label_of, parse, without_csrf

pytestmark = pytest.mark.django_db

CHOSEN = "Une phrase de passe solide !"
BIRTH = datetime.date(2011, 3, 14)


def _csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _pages(college, zoe, quick_delegate) -> dict[str, object]:
    """A response of each kind of page: public, pupil, staff console, refusal."""
    account, provisional = zoe
    anonymous = new_client()
    pupil = new_client()
    pupil.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    staff = signed_in(quick_delegate)
    return {
        "home": anonymous.get("/"),
        "pupil sign-in": anonymous.get(reverse("pupil:login")),
        "staff sign-in": anonymous.get(reverse("portal:login")),
        "activation": pupil.get(reverse("pupil:activate")),
        "portal": staff.get(reverse("portal:index")),
        "dépannage": staff.get(reverse("depannage:pupils", args=[college.uai])),
        "refusal": staff.get(reverse("depannage:pupils", args=["0380002W"])),
        "not found": anonymous.get("/nulle-part/"),
    }


@pytest.fixture
def pages(college, lycee, zoe, quick_delegate):
    return _pages(college, zoe, quick_delegate)


def test_every_page_has_a_strict_csp(pages):
    for name, response in pages.items():
        assert response.status_code in (200, 403, 404), name
        csp = _csp(response)
        script_src = csp.get("script-src", csp.get("default-src"))
        assert script_src, f"{name}: no script-src"
        assert "'unsafe-inline'" not in script_src, name
        assert "'unsafe-eval'" not in script_src, name
        assert "*" not in script_src, name
        assert csp.get("frame-ancestors") == ["'none'"], name
        assert csp.get("object-src") == ["'none'"], name
        assert response.headers.get("X-Frame-Options") == "DENY", name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name


def test_pages_carry_no_inline_script(pages):
    """The CSP forbids inline scripts: pages must not rely on any."""
    for name, response in pages.items():
        page = parse(response.content.decode())
        assert page.scripts, f"{name}: expected the DSFR scripts"
        for attrs, body in page.scripts:
            assert attrs.get("src"), f"{name}: inline <script>"
            assert not body.strip(), f"{name}: <script src> with inline code"
        assert not page.handlers, f"{name}: inline event handlers {page.handlers}"
        assert "javascript:" not in response.content.decode(), name


def test_pages_showing_passwords_are_not_cached(pages):
    for name in ("dépannage", "portal"):
        assert pages[name].status_code == 200
        assert pages[name].headers.get("Cache-Control") == "no-store", name


def test_sessions_live_in_the_database(college):
    engine = import_module(settings.SESSION_ENGINE)
    assert issubclass(engine.SessionStore, db_sessions.SessionStore)
    agent = AgentFactory(username="principal-session")
    client = new_client()
    response = client.post(
        reverse("portal:login"), {"username": agent.username, "password": AGENT_PASSWORD}
    )
    assert response.status_code == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    session = Session.objects.get(session_key=cookie.value)
    assert session.get_decoded()["_auth_user_id"] == str(agent.pk)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # Signing out deletes the row: the cookie is worth nothing afterwards.
    client.post(reverse("portal:logout"))
    assert not Session.objects.filter(session_key=cookie.value).exists()


def test_provisional_passwords_appear_only_where_meant(college, zoe, quick_delegate):
    account, first = zoe
    anonymous = new_client()
    staff = signed_in(quick_delegate)
    console = reverse("depannage:pupils", args=[college.uai])
    reset_url = reverse("depannage:reset", args=[college.uai, account.pk])
    seen = {}

    # Where it must not show: public pages, sign-in answers that were given it, the pupil's
    # own pages, the confirmation page, the portal, a refusal.
    seen["home"] = anonymous.get("/")
    seen["sign-in, wrong identifier"] = anonymous.post(
        reverse("pupil:login"), {"username": "xinconnu999", "password": first}
    )
    seen["staff sign-in"] = anonymous.post(
        reverse("portal:login"), {"username": "inconnu", "password": first}
    )
    pupil = new_client()
    seen["sign-in, provisional"] = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": first}, follow=True
    )
    seen["activation, bad input"] = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": first, "new_password2": first, "birth_date": "01/01/2000"},
    )
    seen["reset confirmation"] = staff.get(reset_url)
    seen["portal"] = staff.get(reverse("portal:index"))
    seen["refusal"] = staff.get(reverse("depannage:pupils", args=["0380002W"]))
    for name, response in seen.items():
        assert first not in response.content.decode(), f"{name} shows the provisional password"

    # Where it is meant to show: the Dépannage list, the banner after a reset.
    assert first in staff.get(console).content.decode()
    after_reset = staff.post(reset_url, follow=True).content.decode()
    second = services.provisional_password(StudentAccount.objects.get(pk=account.pk))
    assert second != first
    assert second in after_reset
    assert first not in after_reset
    assert_nowhere_in_audit(first, second)


def test_activated_pupil_pages_never_show_the_old_provisional_password(college, zoe):
    account, provisional = zoe
    pupil = new_client()
    pupil.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    done = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": "14/03/2011"},
        follow=True,
    )
    body = done.content.decode()
    assert done.status_code == 200
    assert provisional not in body
    assert CHOSEN not in body
    assert_nowhere_in_audit(provisional, CHOSEN)


@pytest.mark.parametrize("url_name", ["pupil:login", "portal:login"])
def test_sign_in_fields_are_labelled(url_name):
    html = new_client().get(reverse(url_name)).content.decode()
    assert "Identifiant" in label_of(html, "username")
    assert "Mot de passe" in label_of(html, "password")
    fields = {i.get("name"): i for i in parse(html).inputs}
    assert fields["password"]["type"] == "password"
    assert fields["username"].get("autocomplete") == "username"
    assert fields["password"].get("autocomplete") == "current-password"


def test_activation_fields_are_labelled(zoe):
    account, provisional = zoe
    pupil = new_client()
    pupil.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    html = pupil.get(reverse("pupil:activate")).content.decode()
    assert "Nouveau mot de passe" in label_of(html, "new_password1")
    assert "Confirmation" in label_of(html, "new_password2")
    assert "Date de naissance" in label_of(html, "birth_date")


# --- Open redirects ------------------------------------------------------------------------


EVIL = [
    "https://evil.example/",
    "//evil.example/",
    "https:evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "http://testserver.evil.example/",
]


@pytest.fixture
def active_pupil(college):
    account, _pw = make_pupil(college)
    account = StudentAccount.objects.select_related("user", "student").get(pk=account.pk)
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    return account


def _pupil_sign_in_with_next(account, nxt: str):
    client = new_client()
    client.get(reverse("pupil:login"), {"next": nxt})
    return client.post(reverse("pupil:login"), {"username": account.identifier, "password": CHOSEN})


@pytest.mark.parametrize("nxt", EVIL)
def test_pupil_sign_in_does_not_follow_a_foreign_next(active_pupil, nxt):
    response = _pupil_sign_in_with_next(active_pupil, nxt)
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:services")


def test_pupil_sign_in_follows_a_local_next(active_pupil):
    """Control for the test above: the next mechanism does work for local pages."""
    response = _pupil_sign_in_with_next(active_pupil, "/mes-services/?depuis=ent")
    assert response["Location"] == "/mes-services/?depuis=ent"


def test_activation_does_not_follow_a_foreign_next(zoe):
    account, provisional = zoe
    client = new_client()
    client.get(reverse("pupil:login"), {"next": "https://evil.example/"})
    client.post(reverse("pupil:login"), {"username": account.identifier, "password": provisional})
    done = client.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": "14/03/2011"},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:services")


def test_staff_sign_in_does_not_follow_a_foreign_next(college):
    agent = AgentFactory(username="principal-redirect")
    client = new_client()
    response = client.post(
        reverse("portal:login"),
        {"username": agent.username, "password": AGENT_PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:index")
    page = client.get(reverse("portal:login"), {"next": "//evil.example/"}).content.decode()
    assert "evil.example" not in page


# --- Enumeration ---------------------------------------------------------------------------


def _normalised(response, typed_identifier: str) -> str:
    return without_csrf(response.content.decode()).replace(typed_identifier, "IDENTIFIANT")


def test_pupil_sign_in_does_not_reveal_whether_an_identifier_exists(zoe):
    account, _provisional = zoe
    unknown_identifier = re.sub(r"\d+$", "999", account.identifier)
    if unknown_identifier == account.identifier:
        unknown_identifier = "xinconnu999"
    known = new_client().post(
        reverse("pupil:login"), {"username": account.identifier, "password": "MAUVAISMDP"}
    )
    unknown = new_client().post(
        reverse("pupil:login"), {"username": unknown_identifier, "password": "MAUVAISMDP"}
    )
    assert known.status_code == unknown.status_code == 400
    assert error_alerts(known.content.decode()) == error_alerts(unknown.content.decode())
    assert "Identifiant ou mot de passe incorrect" in error_alerts(known.content.decode())[0]
    assert _normalised(known, account.identifier) == _normalised(unknown, unknown_identifier)


def test_staff_sign_in_does_not_reveal_whether_a_login_exists(college, zoe):
    account, provisional = zoe
    AgentFactory(username="principal-enum")
    answers = {
        "wrong password": ("principal-enum", "pas-le-bon-mot-de-passe"),
        "unknown login": ("principal-absent", "pas-le-bon-mot-de-passe"),
        # A pupil's identifier and provisional password do not open the staff portal.
        "pupil": (account.identifier, provisional),
    }
    bodies = {}
    for name, (login, password) in answers.items():
        response = new_client().post(
            reverse("portal:login"), {"username": login, "password": password}
        )
        assert response.status_code == 400, name
        bodies[name] = _normalised(response, login)
    assert bodies["wrong password"] == bodies["unknown login"] == bodies["pupil"]


def test_lockout_does_not_reveal_whether_an_identifier_exists(zoe):
    """Throttling must answer alike for an identifier that exists and one that does not:
    otherwise five wrong tries from one address tell an attacker which identifiers exist."""
    account, _provisional = zoe
    unknown_identifier = "xinconnu999"
    answers = {}
    for identifier in (account.identifier, unknown_identifier):
        client = new_client(REMOTE_ADDR="198.51.100.20")
        for _ in range(6):
            response = client.post(
                reverse("pupil:login"), {"username": identifier, "password": "MAUVAISMDP"}
            )
        answers[identifier] = (response.status_code, error_alerts(response.content.decode()))
    assert answers[account.identifier] == answers[unknown_identifier]
