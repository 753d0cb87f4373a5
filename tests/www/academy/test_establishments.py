"""Administration académique, establishments: creation, renaming, closing, heads."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts.models import Assignment, Right
from educompte.audit.models import AuditEvent
from educompte.schools.models import Establishment
from educompte.schools.uai import check_letter
from tests.factories import AgentFactory, make_delegate

pytestmark = pytest.mark.django_db
NEW_DIGITS = "0380003"
NEW_UAI = NEW_DIGITS + check_letter(NEW_DIGITS)
BAD_LETTER = next(c for c in "ABCDEFGHJKLMNPRSTUVWXYZ" if c != check_letter(NEW_DIGITS))


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
