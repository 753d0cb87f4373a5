"""Administration académique: establishments, heads and agents' second factors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.urls.converters import IntConverter
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import otp
from educompte.accounts.models import Assignment, Right
from educompte.audit.models import AuditEvent
from educompte.schools.models import Establishment
from educompte.schools.uai import check_letter
from educompte.www.urls import academy_patterns
from tests.factories import AgentFactory, make_delegate, make_pupil

pytestmark = pytest.mark.django_db

ENROL = "/portail/second-facteur/enrolement/"
ACADEMY_ROUTES = {
    p.name: dict(p.pattern.converters) for p in academy_patterns[0] if isinstance(p, URLPattern)
}
NEW_DIGITS = "0380003"
NEW_UAI = NEW_DIGITS + check_letter(NEW_DIGITS)
BAD_LETTER = next(c for c in "ABCDEFGHJKLMNPRSTUVWXYZ" if c != check_letter(NEW_DIGITS))


def academy_url(name: str, *, uai: str = "0380001V", agent_id: int = 999999) -> str:
    values = {"uai": uai, "agent_id": agent_id}
    kwargs = {
        p: values.get(p, 999999 if isinstance(c, IntConverter) else "x")
        for p, c in ACADEMY_ROUTES[name].items()
    }
    return reverse(f"academy:{name}", kwargs=kwargs)


def request_route(client: Client, url: str):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def establishment_url(uai: str) -> str:
    return reverse("academy:establishment", args=[uai])


@pytest.fixture
def academy(verified_client_for, academy_admin) -> Client:
    return verified_client_for(academy_admin)


def _state() -> tuple:
    return (
        list(Establishment.objects.order_by("pk").values_list("uai", "name", "closed_at")),
        list(Assignment.objects.order_by("pk").values_list("agent", "establishment", "role")),
        TOTPDevice.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Access ----------------------------------------------------------------------------------


def test_agents_who_are_not_academy_administrators_are_refused(
    college, quick_head, quick_agent, verified_client_for
):
    target = AgentFactory(username="cible", quick=True)
    TOTPDevice.objects.create(user=target, name="tel", confirmed=True)
    # A head (even with a verified second factor) is no academy administrator.
    clients = {agent: verified_client_for(agent) for agent in (quick_head, quick_agent)}
    before = _state()
    for agent, client in clients.items():
        wrong = [
            f"{name}: {status}"
            for name in sorted(ACADEMY_ROUTES)
            if (status := request_route(client, academy_url(name, agent_id=target.pk)).status_code)
            != 403
        ]
        assert not wrong, f"{agent}: {wrong}"
        # Forms posted anyway change nothing.
        assert (
            client.post(reverse("academy:index"), {"uai": NEW_UAI, "name": "X"}).status_code == 403
        )
        response = client.post(establishment_url(college.uai), {"what": "close"})
        assert response.status_code == 403
    assert _state() == before
    assert not Establishment.objects.filter(uai=NEW_UAI).exists()


def test_academy_administrator_without_second_factor_is_led_to_enrolment(
    college, academy_admin, client_for
):
    client = client_for(academy_admin)
    before = _state()
    for name in sorted(ACADEMY_ROUTES):
        url = academy_url(name, agent_id=academy_admin.pk)
        response = request_route(client, url)
        assert redirect_path(response) == ENROL, name
        assert parse_qs(urlsplit(response["Location"]).query)["next"] == [url]
    response = client.post(reverse("academy:index"), {"uai": NEW_UAI, "name": "Nouveau"})
    assert redirect_path(response) == ENROL
    assert _state() == before


# --- Establishments ----------------------------------------------------------------------------


def test_create_with_a_wrong_check_letter_is_refused(academy):
    before = _state()
    response = academy.post(
        reverse("academy:index"), {"uai": NEW_DIGITS + BAD_LETTER, "name": "Collège Neuf"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "lettre de contrôle" in body
    assert f"devrait être {check_letter(NEW_DIGITS)}" in body
    assert _state() == before
    # Not even a UAI.
    response = academy.post(reverse("academy:index"), {"uai": "038001", "name": "Collège Neuf"})
    assert response.status_code == 400
    assert "7 chiffres suivis d&#x27;une lettre" in response.content.decode()
    assert _state() == before


def test_create_an_establishment(academy, academy_admin):
    response = academy.post(
        reverse("academy:index"), {"uai": NEW_UAI.lower(), "name": "  Collège Neuf  "}
    )
    assert redirect_path(response) == establishment_url(NEW_UAI)
    est = Establishment.objects.get(uai=NEW_UAI)
    assert est.name == "Collège Neuf"
    assert est.closed_at is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.ESTABLISHMENT_CREATED)
    assert event.actor == academy_admin
    assert event.establishment == est
    page = academy.get(reverse("academy:index"))
    assert NEW_UAI in page.content.decode()
    # The same UAI twice: refused, nothing more.
    again = academy.post(reverse("academy:index"), {"uai": NEW_UAI, "name": "Doublon"})
    assert again.status_code == 400
    assert "existe déjà" in again.content.decode()
    assert Establishment.objects.filter(uai=NEW_UAI).count() == 1


def test_rename(academy, college):
    url = establishment_url(college.uai)
    response = academy.post(url, {"what": "rename", "name": "Collège Lucie Aubrac"})
    assert redirect_path(response) == url
    college.refresh_from_db()
    assert college.name == "Collège Lucie Aubrac"
    event = AuditEvent.objects.get(action=AuditEvent.Action.ESTABLISHMENT_UPDATED)
    assert event.details == {"old_name": "Collège Jean Moulin", "new_name": "Collège Lucie Aubrac"}
    # An empty name is refused.
    assert academy.post(url, {"what": "rename", "name": "  "}).status_code == 400
    college.refresh_from_db()
    assert college.name == "Collège Lucie Aubrac"


def _portal(client: Client) -> str:
    return client.get(reverse("portal:index")).content.decode()


def test_closing_takes_every_right_away_and_reopening_gives_them_back(
    academy, college, lycee, quick_head, quick_other_head, client_for, verified_client_for
):
    delegate = make_delegate(college, Right.ADMINISTRATION, username="cpe", quick=True)
    head = verified_client_for(quick_head)
    staff = verified_client_for(delegate)
    other = client_for(quick_other_head)
    depannage = reverse("depannage:pupils", args=[college.uai])
    administration = reverse("administration:pupils", args=[college.uai])
    assert head.get(depannage).status_code == 200
    assert head.get(administration).status_code == 200
    assert staff.get(depannage).status_code == 200

    url = establishment_url(college.uai)
    assert redirect_path(academy.post(url, {"what": "close"})) == url
    college.refresh_from_db()
    assert college.closed_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.ESTABLISHMENT_CLOSED)
    assert event.establishment == college

    for client in (head, staff):
        assert client.get(depannage).status_code == 403
        assert client.get(administration).status_code == 403
        assert client.get(reverse("administration:journal", args=[college.uai])).status_code == 403
        body = _portal(client)
        assert college.uai not in body
        assert "Dépannage des comptes élèves" not in body
    # Other establishments are not affected.
    assert other.get(reverse("depannage:pupils", args=[lycee.uai])).status_code == 200
    assert lycee.uai in _portal(other)
    assert "Fermé" in academy.get(reverse("academy:index")).content.decode()

    assert redirect_path(academy.post(url, {"what": "reopen"})) == url
    college.refresh_from_db()
    assert college.closed_at is None
    assert head.get(depannage).status_code == 200
    assert staff.get(administration).status_code == 200
    assert college.uai in _portal(head)


def test_appoint_and_remove_a_head(academy, academy_admin, college, client_for):
    agent = AgentFactory(username="nouvelle-principale", first_name="Inès", quick=True)
    client = client_for(agent)
    depannage = reverse("depannage:pupils", args=[college.uai])
    assert client.get(depannage).status_code == 403
    url = establishment_url(college.uai)

    response = academy.post(url, {"what": "appoint", "agent": "Nouvelle-Principale"})
    assert redirect_path(response) == url
    assert Assignment.objects.filter(
        agent=agent, establishment=college, role=Assignment.Role.HEAD
    ).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.HEAD_APPOINTED)
    assert (event.actor, event.establishment, event.details) == (
        academy_admin,
        college,
        {"agent": agent.username},
    )
    assert client.get(depannage).status_code == 200
    assert "Administration des comptes" in _portal(client)
    assert "nouvelle-principale" in academy.get(url).content.decode()

    response = academy.post(url, {"what": "remove_head", "agent": agent.pk})
    assert redirect_path(response) == url
    assert not Assignment.objects.filter(agent=agent, role=Assignment.Role.HEAD).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.HEAD_REMOVED).count() == 1
    assert client.get(depannage).status_code == 403
    assert college.uai not in _portal(client)


def test_appoint_refuses_unknown_logins_and_pupils(academy, college, zoe):
    account, _pw = zoe
    url = establishment_url(college.uai)
    before = _state()
    for login in ("personne", account.identifier):
        response = academy.post(url, {"what": "appoint", "agent": login})
        assert response.status_code == 400
        assert "Aucun agent n&#x27;a cet identifiant" in response.content.decode()
    assert _state() == before


# --- Agents' second factors --------------------------------------------------------------------


def test_reset_an_agents_second_factor(
    academy, academy_admin, college, quick_head, verified_client_for
):
    make_pupil(college)
    head = verified_client_for(quick_head)
    otp.new_recovery_codes(quick_head)
    pupils = reverse("administration:pupils", args=[college.uai])
    assert head.get(pupils).status_code == 200
    agents = academy.get(reverse("academy:agents"), {"q": quick_head.username})
    assert "Enregistré" in agents.content.decode()

    response = academy.post(reverse("academy:reset_otp", args=[quick_head.pk]))
    assert redirect_path(response) == reverse("academy:agents")
    assert not TOTPDevice.objects.filter(user=quick_head).exists()
    assert not StaticDevice.objects.filter(user=quick_head).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.OTP_RESET)
    assert event.actor == academy_admin
    assert event.details == {"agent": quick_head.username}
    followed = academy.get(response["Location"])
    assert "Non enregistré" in followed.content.decode()
    assert "réinitialisé" in messages_of(followed)

    # The agent's verified session is verified no more: enrolment again.
    response = head.get(pupils)
    assert redirect_path(response) == ENROL
    assert head.get(ENROL).status_code == 200


def test_an_academy_administrator_cannot_reset_their_own_second_factor(academy, academy_admin):
    own = TOTPDevice.objects.get(user=academy_admin)
    response = academy.post(reverse("academy:reset_otp", args=[academy_admin.pk]), follow=True)
    assert response.status_code == 200
    assert "propre second facteur" in messages_of(response)
    assert TOTPDevice.objects.filter(pk=own.pk, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.OTP_RESET).exists()
    assert academy.get(reverse("academy:index")).status_code == 200  # still verified


def test_reset_otp_of_a_pupil_login_is_404(academy, zoe):
    account, _pw = zoe
    response = academy.post(reverse("academy:reset_otp", args=[account.user.pk]))
    assert response.status_code == 404


def test_a_malformed_agent_id_is_not_a_server_error(academy, college, quick_head):
    academy.raise_request_exception = False
    before = _state()
    response = academy.post(establishment_url(college.uai), {"what": "remove_head", "agent": "x"})
    assert response.status_code in (400, 404), response.status_code
    assert _state() == before
