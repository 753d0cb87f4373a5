"""Administration des comptes, delegations: granted by heads only, within a year, revoked
at once."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from educompte.accounts.models import Delegation, Right
from educompte.accounts.services import default_delegation_end, one_year_after
from educompte.audit.models import AuditEvent
from tests.factories import AgentFactory, make_delegate

pytestmark = pytest.mark.django_db
UAI = "0380001V"


def url(name: str, *args, uai: str = UAI) -> str:
    return reverse(name, args=[uai, *args])


def redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert not location.netloc
    return location.path


def portal(client: Client) -> str:
    return client.get(reverse("portal:index")).content.decode()


# --- Delegations ---------------------------------------------------------------------------------


def test_delegations_are_for_heads_only(college, quick_head, verified_client_for):
    cpe = make_delegate(college, Right.ADMINISTRATION, username="cpe", quick=True)
    client = verified_client_for(cpe)
    pupils = client.get(url("administration:pupils"))
    assert pupils.status_code == 200
    assert client.get(url("administration:journal")).status_code == 200
    assert url("administration:delegations") not in pupils.content.decode()  # no tab
    assert client.get(url("administration:delegations")).status_code == 403
    end = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    data = {"agent": "cpe", "right": "administration", "end": end}
    assert client.post(url("administration:delegations"), data).status_code == 403
    own = Delegation.objects.get(agent=cpe)
    assert client.post(url("administration:revoke_delegation", own.pk)).status_code == 403
    own.refresh_from_db()
    assert own.revoked_at is None
    assert Delegation.objects.count() == 1
    assert not AuditEvent.objects.exists()
    # Control: the head has the tab and the page.
    head = verified_client_for(quick_head)
    assert (
        url("administration:delegations") in head.get(url("administration:pupils")).content.decode()
    )
    assert head.get(url("administration:delegations")).status_code == 200


def test_default_end_is_the_end_of_the_school_year(head_client):
    today = timezone.localdate()
    year = today.year if today.month < 9 else today.year + 1
    body = head_client.get(url("administration:delegations")).content.decode()
    assert f'value="{year}-08-31"' in body
    assert default_delegation_end(datetime.date(2026, 9, 1)) == datetime.date(2027, 8, 31)
    assert default_delegation_end(datetime.date(2027, 1, 15)) == datetime.date(2027, 8, 31)
    assert default_delegation_end(datetime.date(2027, 8, 31)) == datetime.date(2027, 8, 31)


def _grant(client: Client, agent: str, end: datetime.date, right: str = "depannage"):
    return client.post(
        url("administration:delegations"), {"agent": agent, "right": right, "end": end.isoformat()}
    )


@pytest.mark.parametrize("typed", ["M.Durand", "durand camille"])
def test_grant_depannage(head_client, quick_head, college, client_for, typed):
    agent = AgentFactory(username="m.durand", first_name="Camille", last_name="Durand", quick=True)
    AgentFactory(username="c.martin", first_name="Camille", last_name="Martin", quick=True)
    agent_client = client_for(agent)
    assert agent_client.get(url("depannage:pupils")).status_code == 403
    today = timezone.localdate()
    end = today + datetime.timedelta(days=60)

    response = _grant(head_client, typed, end)
    assert redirect_path(response) == url("administration:delegations")
    delegation = Delegation.objects.get(agent=agent)
    assert (delegation.establishment, delegation.right, delegation.start, delegation.end) == (
        college,
        Right.DEPANNAGE,
        today,
        end,
    )
    assert delegation.granted_by == quick_head
    assert delegation.revoked_at is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELEGATION_GRANTED)
    assert (event.actor, event.establishment) == (quick_head, college)
    assert event.details == {"agent": "m.durand", "right": "depannage", "end": end.isoformat()}

    assert agent_client.get(url("depannage:pupils")).status_code == 200
    body = portal(agent_client)
    assert "Dépannage des comptes élèves" in body
    assert "Administration des comptes" not in body
    page = head_client.get(url("administration:delegations")).content.decode()
    assert "m.durand" in page
    assert "En cours" in page


def test_grant_needs_exactly_one_agent(head_client):
    AgentFactory(username="d.martin1", first_name="Dominique", last_name="Martin", quick=True)
    AgentFactory(username="d.martin2", first_name="Dominique", last_name="Martin", quick=True)
    end = timezone.localdate() + datetime.timedelta(days=5)
    for typed in ("Dominique Martin", "Personne Inconnue", "d.martin"):
        response = _grant(head_client, typed, end)
        assert response.status_code == 400, typed
        assert "Aucun agent ne correspond (ou plusieurs)" in response.content.decode()
    assert _grant(head_client, "", end).status_code == 400
    assert not Delegation.objects.exists()
    assert not AuditEvent.objects.exists()


def test_grant_end_date_must_be_within_a_year_from_today(head_client, client_for):
    agent = AgentFactory(username="m.durand", quick=True)
    today = timezone.localdate()
    response = _grant(head_client, "m.durand", today - datetime.timedelta(days=1))
    assert response.status_code == 400
    assert "La date de fin est déjà passée." in response.content.decode()
    response = _grant(head_client, "m.durand", one_year_after(today) + datetime.timedelta(days=1))
    assert response.status_code == 400
    assert "Une délégation dure au plus un an." in response.content.decode()
    assert not Delegation.objects.exists()
    assert not AuditEvent.objects.exists()
    assert client_for(agent).get(url("depannage:pupils")).status_code == 403
    # Boundaries: today and exactly one year are accepted.
    assert _grant(head_client, "m.durand", one_year_after(today)).status_code == 302
    assert Delegation.objects.get(agent=agent).end == one_year_after(today)


def test_granting_the_same_right_again_moves_the_end_date(head_client, college):
    agent = AgentFactory(username="m.durand", quick=True)
    today = timezone.localdate()
    first, second = today + datetime.timedelta(days=60), today + datetime.timedelta(days=10)
    assert _grant(head_client, "m.durand", first).status_code == 302
    assert _grant(head_client, "m.durand", second).status_code == 302
    live = Delegation.objects.filter(agent=agent, right=Right.DEPANNAGE)
    assert live.count() == 1
    assert live.get().end == second
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELEGATION_GRANTED).count() == 2
    # Another right is another delegation.
    assert _grant(head_client, "m.durand", first, right="administration").status_code == 302
    assert Delegation.objects.filter(agent=agent).count() == 2


@pytest.mark.parametrize("right", [Right.DEPANNAGE, Right.ADMINISTRATION])
def test_revoke_ends_the_right_on_the_next_request(
    head_client, quick_head, college, verified_client_for, right
):
    agent = make_delegate(college, right, username="surveillant", quick=True)
    agent_client = verified_client_for(agent)
    app = url("depannage:pupils" if right == Right.DEPANNAGE else "administration:pupils")
    assert agent_client.get(app).status_code == 200
    assert UAI in portal(agent_client)
    delegation = Delegation.objects.get(agent=agent)

    response = head_client.post(url("administration:revoke_delegation", delegation.pk))
    assert redirect_path(response) == url("administration:delegations")
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    assert delegation.revoked_by == quick_head
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELEGATION_REVOKED)
    assert (event.actor, event.establishment) == (quick_head, college)
    assert event.details == {"agent": "surveillant", "right": right}

    assert agent_client.get(app).status_code == 403
    assert agent_client.get(url("depannage:pupils")).status_code == 403
    body = portal(agent_client)
    assert UAI not in body
    assert "Dépannage des comptes élèves" not in body

    # The history keeps the row, without a revoke button; revoking twice changes nothing.
    page = head_client.get(url("administration:delegations")).content.decode()
    assert f'data-delegation="{delegation.pk}"' in page
    assert f"Révoquée le {timezone.localdate():%d/%m/%Y}" in page
    assert url("administration:revoke_delegation", delegation.pk) not in page
    head_client.post(url("administration:revoke_delegation", delegation.pk))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELEGATION_REVOKED).count() == 1


def test_an_ended_delegation_gives_no_right(head_client, college, client_for):
    today = timezone.localdate()
    agent = make_delegate(
        college,
        start=today - datetime.timedelta(days=30),
        end=today - datetime.timedelta(days=1),
        username="ancien",
        quick=True,
    )
    client = client_for(agent)
    assert client.get(url("depannage:pupils")).status_code == 403
    assert UAI not in portal(client)
    delegation = Delegation.objects.get(agent=agent)
    page = head_client.get(url("administration:delegations")).content.decode()
    assert f'data-delegation="{delegation.pk}"' in page
    assert "Terminée" in page
    assert url("administration:revoke_delegation", delegation.pk) not in page


def test_a_head_cannot_revoke_another_establishments_delegation(
    college, lycee, quick_delegate, quick_other_head, verified_client_for
):
    delegation = Delegation.objects.get(agent=quick_delegate)
    client = verified_client_for(quick_other_head)
    own_url = url("administration:revoke_delegation", delegation.pk, uai=lycee.uai)
    assert client.post(own_url).status_code == 404
    assert client.post(url("administration:revoke_delegation", delegation.pk)).status_code == 403
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert not AuditEvent.objects.exists()
