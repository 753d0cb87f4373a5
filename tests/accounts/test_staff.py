"""Staff accounts from the web: the head invites an agent (a link to choose a password),
agents recover a forgotten password by e-mail and change it in « Mon compte »."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from educompte.accounts import staff
from educompte.accounts.models import Assignment, User
from educompte.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "une phrase de passe solide 2026"


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def invite(head, college, **kwargs):
    fields = {"first_name": "Claire", "last_name": "Fabre", "email": "claire.fabre@ac.test"}
    return staff.invite_agent(head, college, **(fields | kwargs))


def test_the_head_invites_an_agent(quick_head, college, locmem_mail):
    agent = invite(quick_head, college)
    assert agent.username == "claire.fabre"
    assert agent.is_agent and not agent.has_usable_password()
    assert Assignment.objects.filter(
        agent=agent, establishment=college, role=Assignment.Role.STAFF
    ).exists()
    [message] = mail.outbox
    assert message.to == ["claire.fabre@ac.test"]
    assert "claire.fabre" in message.body
    assert "/portail/invitation/" in link_in(message)
    assert staff.staff_of(quick_head, college) == [agent]
    event = AuditEvent.objects.get(action=AuditEvent.Action.AGENT_CREATED)
    assert (event.actor, event.establishment) == (quick_head, college)


def test_homonym_agents_get_distinct_logins(quick_head, college, locmem_mail):
    first = invite(quick_head, college)
    second = invite(quick_head, college, email="c.fabre@ac.test")
    assert (first.username, second.username) == ("claire.fabre", "claire.fabre2")


def test_an_agent_with_an_account_is_placed_not_duplicated(quick_head, college, lycee, locmem_mail):
    from tests.factories import make_head

    agent = invite(quick_head, college)
    other_head = make_head(lycee, quick=True, username="principal-lycee")
    again = invite(other_head, lycee, email="CLAIRE.FABRE@ac.test")
    assert again == agent
    assert User.objects.filter(email__iexact="claire.fabre@ac.test").count() == 1
    assert staff.staff_of(other_head, lycee) == [agent]


def test_only_the_head_invites(quick_delegate, college):
    with pytest.raises(PermissionDenied):
        invite(quick_delegate, college)
    assert not User.objects.filter(email="claire.fabre@ac.test").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"first_name": " "}, "first_name"), ({"email": "pas-une-adresse"}, "email")],
)
def test_bad_input_creates_nobody(quick_head, college, fields, field):
    with pytest.raises(ValidationError) as refused:
        invite(quick_head, college, **fields)
    assert field in refused.value.message_dict
    assert not User.objects.filter(last_name="Fabre").exists()


def test_the_invitation_link_works_once(quick_head, college, locmem_mail):
    agent = invite(quick_head, college)
    client = Client()
    response = client.get(path_of(link_in(mail.outbox[0])))
    assert response.status_code == 302
    assert response["Location"] == "/portail/invitation/mot-de-passe/"
    page = client.get(response["Location"])
    assert "claire.fabre" in page.content.decode()
    done = client.post(
        response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == "/portail/connexion/"
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)
    # The same link again: dead (a password exists now).
    again = Client()
    again.get(path_of(link_in(mail.outbox[0])))
    assert again.get("/portail/invitation/mot-de-passe/").status_code == 400
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STAFF_PASSWORD_SET, actor=agent
    ).exists()


def test_a_forged_invitation_token_is_refused(client: Client):
    client.get("/portail/invitation/abc:def/")
    assert client.get("/portail/invitation/mot-de-passe/").status_code == 400


def test_forgotten_password_by_login_or_address(client: Client, quick_head, locmem_mail):
    quick_head.email = "principal@ac.test"
    quick_head.set_password("ancien mot de passe 2025")
    quick_head.save()
    for query in ("principal-rapide", "PRINCIPAL@ac.test"):
        response = client.post("/portail/mot-de-passe-oublie/", {"query": query})
        assert response.status_code == 200
    assert len(mail.outbox) == 2
    unknown = client.post("/portail/mot-de-passe-oublie/", {"query": "personne"})
    assert unknown.status_code == 200
    assert unknown.templates[0].name == response.templates[0].name
    assert len(mail.outbox) == 2
    link = path_of(link_in(mail.outbox[-1]))
    reset = Client()
    target = reset.get(link)["Location"]
    reset.post(target, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    quick_head.refresh_from_db()
    assert quick_head.check_password(NEW_PASSWORD)
    # Used: the link is dead (the password changed).
    dead = Client()
    dead.get(link)
    assert dead.get(target).status_code == 400


def test_the_agent_changes_the_password_in_my_account(client_for, quick_head, settings):
    client = client_for(quick_head)
    page = client.get("/portail/mon-compte/").content.decode()
    assert quick_head.username in page
    wrong = client.post(
        "/portail/mon-compte/",
        {
            "current_password": "pas le bon",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 400
    assert "Mot de passe actuel incorrect." in wrong.content.decode()


def test_my_account_changes_the_password_and_keeps_the_session(quick_head, agent_password):
    from tests.helpers import signed_in

    quick_head.set_password(agent_password)
    quick_head.save()
    client = signed_in(quick_head)
    done = client.post(
        "/portail/mon-compte/",
        {
            "current_password": agent_password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302
    quick_head.refresh_from_db()
    assert quick_head.check_password(NEW_PASSWORD)
    assert client.get("/portail/").status_code == 200  # still signed in


def test_personnels_tab_invites_and_lists(verified_client_for, quick_head, college, locmem_mail):
    client = verified_client_for(quick_head)
    url = f"/administration/{college.uai}/personnels/"
    response = client.post(
        url, {"first_name": "Claire", "last_name": "Fabre", "email": "claire.fabre@ac.test"}
    )
    assert response.status_code == 302
    text = client.get(url).content.decode()
    assert "claire.fabre" in text and "Invitation envoyée" in text
    bad = client.post(url, {"first_name": "Claire", "last_name": "Fabre", "email": "x"})
    assert bad.status_code == 400
    delegations = client.get(f"/administration/{college.uai}/delegations/").content.decode()
    assert '<datalist id="staff-list"><option value="claire.fabre">' in delegations


def test_a_new_invitation_only_for_an_agent_still_without_password(
    quick_head, college, lycee, locmem_mail
):
    agent = invite(quick_head, college)
    assert staff.invite_again(quick_head, college, agent.pk, defer=None) == agent
    assert len(mail.outbox) == 2
    agent.set_password(NEW_PASSWORD)
    agent.save()
    assert staff.invite_again(quick_head, college, agent.pk, defer=None) is None
    # An agent of another establishment is nobody here.
    from tests.factories import make_head

    other = make_head(lycee, quick=True, username="principal-lycee")
    stranger = invite(other, lycee, email="autre@ac.test")
    assert staff.invite_again(quick_head, college, stranger.pk, defer=None) is None
    assert len(mail.outbox) == 3
