"""Administration académique: who may enter (academy administrators, second factor)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.urls.converters import IntConverter
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts.models import Assignment
from educompte.audit.models import AuditEvent
from educompte.schools.models import Establishment
from educompte.schools.uai import check_letter
from educompte.www.urls import academy_patterns
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db
ENROL = "/portail/second-facteur/enrolement/"
ACADEMY_ROUTES = {
    p.name: dict(p.pattern.converters) for p in academy_patterns[0] if isinstance(p, URLPattern)
}


NEW_DIGITS = "0380003"
NEW_UAI = NEW_DIGITS + check_letter(NEW_DIGITS)


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


def establishment_url(uai: str) -> str:
    return reverse("academy:establishment", args=[uai])


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
