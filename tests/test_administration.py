"""Administration des comptes: delegations, lifecycle actions, forced changes, guard rails on
resets and the audit log."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import Delegation, Right, StaffAlert, ThrottleCounter
from educompte.accounts.services import default_delegation_end, one_year_after
from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import (
    AgentFactory,
    DivisionFactory,
    make_delegate,
    make_head,
    make_pupil,
)

pytestmark = pytest.mark.django_db

UAI = "0380001V"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
CHOSEN_PASSWORD = "Trombone-Velours-Azur-42"
PUPIL_BACKEND = "django.contrib.auth.backends.ModelBackend"
LOCKED_IP = "198.51.100.4"


def url(name: str, *args, uai: str = UAI) -> str:
    return reverse(name, args=[uai, *args])


def redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert not location.netloc
    return location.path


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def portal(client: Client) -> str:
    return client.get(reverse("portal:index")).content.decode()


def snapshot(account: StudentAccount) -> tuple:
    """Everything a lifecycle action or a reset could change on an account."""
    account = StudentAccount.objects.select_related("user").get(pk=account.pk)
    counters = ThrottleCounter.objects.filter(user_id=account.user_id).order_by("key")
    return (
        account.state,
        bytes(account.provisional_password_encrypted or b""),
        account.provisional_issued_at,
        account.user.password,
        list(counters.values_list("key", "count", "locked_until")),
    )


def lock(account: StudentAccount) -> None:
    """Enough wrong passwords from one address to make the next attempts wait."""
    for _attempt in range(throttling.FREE_FAILURES + 1):
        throttling.record_failure(account.user_id, LOCKED_IP)


def activated(account: StudentAccount) -> str:
    services.activate(account, new_password=CHOSEN_PASSWORD, birth_date=account.student.birth_date)
    return CHOSEN_PASSWORD


@pytest.fixture
def head_client(verified_client_for, quick_head) -> Client:
    return verified_client_for(quick_head)


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


# --- Lifecycle actions ---------------------------------------------------------------------------


def act(client: Client, action: str, ids: list[int], **extra):
    data = {"action": action, "comptes": [str(i) for i in ids], **extra}
    return client.post(url("administration:account_action"), data)


def test_deactivate_asks_for_confirmation_then_for_a_reason(head_client, zoe):
    account, password = zoe
    before = snapshot(account)
    first = act(head_client, "deactivate", [account.pk])
    assert first.status_code == 200
    body = first.content.decode()
    assert account.identifier in body
    assert 'name="confirm" value="1"' in body
    assert 'name="reason"' in body
    assert snapshot(account) == before
    for reason in ("", "   "):
        response = act(head_client, "deactivate", [account.pk], confirm="1", reason=reason)
        assert response.status_code == 400
        assert "Indiquez le motif de la désactivation." in response.content.decode()
        assert snapshot(account) == before
    assert not AuditEvent.objects.exists()
    assert services.sign_in_pupil(account.identifier, password).outcome is SignIn.ACTIVATE


def test_deactivation_signs_the_pupil_out_and_refuses_sign_in(head_client, quick_head, zoe):
    account, password = zoe
    pupil = Client()
    pupil.force_login(account.user, backend=PUPIL_BACKEND)
    assert pupil.get(reverse("pupil:services")).status_code == 200

    response = act(
        head_client, "deactivate", [account.pk], confirm="1", reason="A quitté l'établissement"
    )
    assert redirect_path(response) == url("administration:pupils")
    account.refresh_from_db()
    assert account.state == AccountState.DEACTIVATED
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_DEACTIVATED)
    assert (event.actor, event.account) == (quick_head, account)
    assert event.details == {"reason": "A quitté l'établissement"}

    assert redirect_path(pupil.get(reverse("pupil:services"))) == reverse("pupil:login")
    outcome = services.sign_in_pupil(account.identifier, password).outcome
    assert outcome not in (SignIn.OK, SignIn.ACTIVATE)
    again = Client().post(
        reverse("pupil:login"), {"username": account.identifier, "password": password}
    )
    assert again.status_code == 400
    assert "_auth_user_id" not in again.client.session


@pytest.mark.parametrize("was_activated", [False, True], ids=["provisional", "chosen"])
def test_deactivated_pupil_cannot_sign_in_with_the_right_password(head_client, zoe, was_activated):
    account, password = zoe
    if was_activated:
        password = activated(account)
        assert services.sign_in_pupil(account.identifier, password).outcome is SignIn.OK
    response = act(head_client, "deactivate", [account.pk], confirm="1", reason="Départ")
    assert response.status_code == 302
    result = services.sign_in_pupil(account.identifier, password)
    # DEACTIVATED (the brief) or FAILED (services.sign_in_pupil: deactivation erases every
    # credential, "same answer as a typo"); never a way in.
    assert result.outcome in (SignIn.DEACTIVATED, SignIn.FAILED), result.outcome
    page = Client().post(
        reverse("pupil:login"), {"username": account.identifier, "password": password}
    )
    assert page.status_code == 400
    assert "_auth_user_id" not in page.client.session
    body = page.content.decode()
    assert "Ce compte est désactivé" in body or "Identifiant ou mot de passe incorrect" in body


def test_reactivate_gives_a_fresh_provisional_password(head_client, quick_head, college, zoe):
    account, old_password = zoe
    services.deactivate(quick_head, college, [account.pk], reason="Départ")
    response = act(head_client, "reactivate", [account.pk], confirm="1", reason="")
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.state == AccountState.DEACTIVATED

    response = act(head_client, "reactivate", [account.pk], confirm="1", reason="Retour")
    assert redirect_path(response) == url("administration:pupils")
    account.refresh_from_db()
    assert account.state == AccountState.NOT_INFORMED
    new_password = services.provisional_password(account)
    assert new_password and new_password != old_password
    assert services.sign_in_pupil(account.identifier, old_password).outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, new_password).outcome is SignIn.ACTIVATE
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_REACTIVATED)
    assert (event.actor, event.account, event.details) == (
        quick_head,
        account,
        {"reason": "Retour"},
    )


def test_unlock(head_client, quick_head, zoe):
    account, password = zoe
    lock(account)
    assert (
        services.sign_in_pupil(account.identifier, password, ip=LOCKED_IP).outcome is SignIn.LOCKED
    )
    locked = snapshot(account)
    assert act(head_client, "unlock", [account.pk]).status_code == 200  # confirmation
    assert snapshot(account) == locked

    assert redirect_path(act(head_client, "unlock", [account.pk], confirm="1")) == url(
        "administration:pupils"
    )
    assert not throttling.blocked_until([account.user_id])
    assert not ThrottleCounter.objects.filter(user_id=account.user_id).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_UNLOCKED)
    assert (event.actor, event.account) == (quick_head, account)
    outcome = services.sign_in_pupil(account.identifier, password, ip=LOCKED_IP).outcome
    assert outcome is SignIn.ACTIVATE


def test_ids_of_another_establishment_are_ignored(head_client, college, lycee, zoe):
    account, _pw = zoe
    foreign, _fpw = make_pupil(lycee, first_name="Léa", last_name="Vasseur")
    lock(account)
    lock(foreign)
    foreign_before = snapshot(foreign)
    ids = [account.pk, foreign.pk]

    confirm = act(head_client, "deactivate", ids)
    assert foreign.identifier not in confirm.content.decode()
    assert act(head_client, "unlock", ids, confirm="1").status_code == 302
    assert act(head_client, "force", ids, confirm="1").status_code == 302
    assert act(head_client, "deactivate", ids, confirm="1", reason="x").status_code == 302

    assert snapshot(foreign) == foreign_before
    assert not AuditEvent.objects.filter(account=foreign).exists()
    account.refresh_from_db()  # control: the college's pupil went through every action
    assert account.state == AccountState.DEACTIVATED
    assert set(AuditEvent.objects.filter(account=account).values_list("action", flat=True)) == {
        AuditEvent.Action.ACCOUNT_UNLOCKED,
        AuditEvent.Action.FORCED_CHANGE,
        AuditEvent.Action.ACCOUNT_DEACTIVATED,
    }


# --- Forced password change ------------------------------------------------------------------


@pytest.fixture
def classes(college, lycee, quick_head):
    a3 = DivisionFactory(establishment=college, code="3A")
    b3 = DivisionFactory(establishment=college, code="3B")
    informed, p1 = make_pupil(college, first_name="Zoé", last_name="Lefèvre", division=a3)
    not_informed, p2 = make_pupil(
        college,
        first_name="Hugo",
        last_name="Berthier",
        division=a3,
        state=AccountState.NOT_INFORMED,
    )
    active, _p = make_pupil(college, first_name="Inès", last_name="Roux", division=a3)
    p3 = activated(active)
    gone, p4 = make_pupil(college, first_name="Paul", last_name="Morel", division=a3)
    services.deactivate(quick_head, college, [gone.pk], reason="Départ")
    other_class, p5 = make_pupil(college, first_name="Léo", last_name="Garnier", division=b3)
    no_class, p6 = make_pupil(college, first_name="Emma", last_name="Petit")
    foreign, p7 = make_pupil(lycee, first_name="Léa", last_name="Vasseur")
    AuditEvent.objects.all().delete()
    return {
        "3A": a3,
        "targets": {informed: p1, not_informed: p2, active: p3},
        "deactivated": {gone: p4},
        "others": {other_class: p5, no_class: p6},
        "foreign": {foreign: p7},
    }


def _check_forced(head_client, quick_head, changed: dict, untouched: list, scope: dict):
    before = {a.pk: snapshot(a) for a in untouched}
    data = {"scope": scope["scope"]}
    if "division" in scope:
        data["division"] = scope["pk"]
    confirm = head_client.post(url("administration:forced_change"), data)
    assert confirm.status_code == 200
    n = len(changed)
    assert f"{n} comptes" in confirm.content.decode()
    assert not AuditEvent.objects.exists()

    response = head_client.post(url("administration:forced_change"), {**data, "confirm": "1"})
    result_path = redirect_path(response)
    assert result_path.startswith(url("administration:forced_change"))
    result = head_client.get(result_path)
    assert result.status_code == 200
    body = result.content.decode()
    for account, old in changed.items():
        account.refresh_from_db()
        assert account.state == AccountState.NOT_INFORMED
        new = services.provisional_password(account)
        assert new and new != old
        assert account.identifier in body
        assert new in body
        assert services.sign_in_pupil(account.identifier, old).outcome is SignIn.FAILED
        assert services.sign_in_pupil(account.identifier, new).outcome is SignIn.ACTIVATE
    for account in untouched:
        assert snapshot(account) == before[account.pk], account.identifier
        assert account.identifier not in body
    events = AuditEvent.objects.filter(action=AuditEvent.Action.FORCED_CHANGE)
    assert sorted(events.values_list("account_id", flat=True)) == sorted(a.pk for a in changed)
    details = {k: v for k, v in scope.items() if k != "pk"}
    for event in events:
        assert (event.actor, event.details) == (quick_head, details)


def test_forced_change_of_a_class(head_client, quick_head, classes):
    untouched = [*classes["deactivated"], *classes["others"], *classes["foreign"]]
    scope = {"scope": "division", "division": "3A", "pk": classes["3A"].pk}
    _check_forced(head_client, quick_head, classes["targets"], untouched, scope)


def test_forced_change_of_the_whole_establishment(head_client, quick_head, classes):
    changed = {**classes["targets"], **classes["others"]}
    untouched = [*classes["deactivated"], *classes["foreign"]]
    _check_forced(head_client, quick_head, changed, untouched, {"scope": "establishment"})


def test_forced_change_of_another_establishments_class_is_404(head_client, lycee, classes):
    foreign_class = DivisionFactory(establishment=lycee, code="2A")
    accounts = [*classes["targets"], *classes["others"]]
    before = [snapshot(a) for a in accounts]
    data = {"scope": "division", "division": foreign_class.pk, "confirm": "1"}
    assert head_client.post(url("administration:forced_change"), data).status_code == 404
    assert [snapshot(a) for a in accounts] == before
    assert not AuditEvent.objects.exists()


# --- Guard rails on resets ---------------------------------------------------------------------


@pytest.fixture
def five(college):
    names = ["Anna", "Basile", "Chloé", "David", "Eva"]
    return [make_pupil(college, first_name=n, last_name="Fontaine")[0] for n in names]


def reset(client: Client, account: StudentAccount, **kwargs):
    return client.post(url("depannage:reset", account.pk), **kwargs)


def test_daily_reset_limit_in_the_console(settings, client_for, quick_delegate, quick_head, five):
    settings.EDUCOMPTE_DAILY_RESET_LIMIT = 3
    client = client_for(quick_delegate)
    for account in five[:3]:
        assert redirect_path(reset(client, account)) == url("depannage:pupils")
    fourth = five[3]
    before = snapshot(fourth)
    response = reset(client, fourth, follow=True)
    assert response.status_code == 200
    text = messages_of(response)
    assert "Limite atteinte" in text
    assert "au plus 3 mots de passe par jour" in text
    assert "il vous en reste 0" in text
    assert "Limite atteinte" in response.content.decode()
    assert snapshot(fourth) == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 3

    with pytest.raises(services.ResetLimitReached) as exc:
        services.reset_password(quick_delegate, fourth)
    assert (exc.value.limit, exc.value.remaining) == (3, 0)
    assert snapshot(fourth) == before
    # The ceiling is per agent and per day.
    services.reset_password(quick_head, fourth)
    yesterday = timezone.now() - datetime.timedelta(days=1)
    AuditEvent.objects.filter(actor=quick_delegate).update(created_at=yesterday)
    assert redirect_path(reset(client, five[4])) == url("depannage:pupils")


def test_bulk_reset_beyond_the_remaining_quota_is_refused_entirely(
    settings, client_for, quick_delegate, quick_head, college, five
):
    settings.EDUCOMPTE_DAILY_RESET_LIMIT = 3
    services.reset_password(quick_delegate, five[0])
    services.reset_password(quick_delegate, five[1])
    client = client_for(quick_delegate)
    before = {a.pk: snapshot(a) for a in five[2:]}
    data = {"comptes": [str(five[2].pk), str(five[3].pk)], "confirm": "1"}
    response = client.post(url("depannage:bulk_reset"), data, follow=True)
    assert response.status_code == 200
    assert "Limite atteinte" in messages_of(response)
    assert "il vous en reste 1" in messages_of(response)
    assert {a.pk: snapshot(a) for a in five[2:]} == before
    with pytest.raises(services.ResetLimitReached):
        services.reset_passwords(quick_delegate, college, [five[2].pk, five[3].pk])
    assert {a.pk: snapshot(a) for a in five[2:]} == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 2

    # A deactivated account in the selection is skipped, so it does not count.
    services.deactivate(quick_head, college, [five[4].pk], reason="Départ")
    data = {"comptes": [str(five[2].pk), str(five[4].pk)], "confirm": "1"}
    response = client.post(url("depannage:bulk_reset"), data)
    assert redirect_path(response).startswith(url("depannage:pupils") + "resultat/")
    assert snapshot(five[2]) != before[five[2].pk]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 3


@pytest.fixture
def alert_setup(settings, college, quick_head, quick_other_head):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EDUCOMPTE_RESET_ALERT_PER_HOUR = 2
    quick_head.email = "principal@ac-grenoble.fr"
    quick_head.save()
    make_head(college, username="adjoint", quick=True)  # a head without an e-mail address
    quick_other_head.email = "lycee@ac-grenoble.fr"  # head of another establishment
    quick_other_head.save()
    mail.outbox.clear()


def test_many_resets_within_an_hour_alert_the_heads(
    alert_setup,
    college,
    client_for,
    quick_delegate,
    quick_head,
    quick_other_head,
    five,
    django_capture_on_commit_callbacks,
):
    client = client_for(quick_delegate)
    for account in five[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            assert reset(client, account).status_code == 302
    assert not StaffAlert.objects.exists()
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[2]).status_code == 302
    alert = StaffAlert.objects.get()
    assert (alert.establishment, alert.agent, alert.kind) == (college, quick_delegate, "resets")
    assert "a réinitialisé 3 mots de passe" in alert.message
    assert quick_delegate.username in alert.message
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["principal@ac-grenoble.fr"]
    assert "Alerte" in sent.subject
    assert alert.message in sent.body
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RESET_ALERT).count() == 1

    # One alert an hour is enough.
    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[3]).status_code == 302
    assert StaffAlert.objects.count() == 1
    assert len(mail.outbox) == 1

    head = client_for(quick_head)
    assert "a réinitialisé 3 mots de passe" in portal(head)
    other = client_for(quick_other_head)
    assert "a réinitialisé 3 mots de passe" not in portal(other)
    dismiss = reverse("portal:dismiss_alert", args=[alert.pk])
    assert other.post(dismiss).status_code == 403
    assert client_for(quick_delegate).post(dismiss).status_code == 403
    alert.refresh_from_db()
    assert alert.dismissed_at is None

    assert redirect_path(head.post(dismiss)) == reverse("portal:index")
    alert.refresh_from_db()
    assert alert.dismissed_at is not None
    assert alert.dismissed_by == quick_head
    assert "a réinitialisé 3 mots de passe" not in portal(head)


def test_resets_older_than_an_hour_do_not_alert(
    alert_setup, client_for, quick_delegate, five, django_capture_on_commit_callbacks
):
    client = client_for(quick_delegate)
    for account in five[:2]:
        reset(client, account)
    AuditEvent.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[2]).status_code == 302
    assert not StaffAlert.objects.exists()
    assert mail.outbox == []


# --- Audit log -----------------------------------------------------------------------------------


@pytest.fixture
def journal(college, lycee, quick_head, quick_delegate, quick_other_head, zoe):
    """Three events of the college on three days around midnight, one of the lycée."""
    account, _pw = zoe
    hugo, _hpw = make_pupil(college, first_name="Hugo", last_name="Berthier")
    foreign, _fpw = make_pupil(lycee, first_name="Léa", last_name="Vasseur")
    services.reset_password(quick_delegate, account, ip="192.0.2.7")
    services.reset_password(quick_head, hugo)
    services.deactivate(quick_head, college, [hugo.pk], reason="Départ")
    services.reset_password(quick_other_head, foreign)
    events = {
        "zoe_reset": AuditEvent.objects.get(account=account),
        "hugo_reset": AuditEvent.objects.get(account=hugo, action="password_reset"),
        "hugo_deactivated": AuditEvent.objects.get(account=hugo, action="account_deactivated"),
        "foreign_reset": AuditEvent.objects.get(account=foreign),
    }
    when = {
        "zoe_reset": datetime.datetime(2026, 3, 10, 23, 30, tzinfo=PARIS),
        "hugo_reset": datetime.datetime(2026, 3, 11, 0, 30, tzinfo=PARIS),
        "hugo_deactivated": datetime.datetime(2026, 3, 12, 12, 0, tzinfo=PARIS),
        "foreign_reset": datetime.datetime(2026, 3, 11, 10, 0, tzinfo=PARIS),
    }
    for key, moment in when.items():
        AuditEvent.objects.filter(pk=events[key].pk).update(created_at=moment)
    return {"zoe": account, "hugo": hugo, "foreign": foreign, **events}


def shown(client: Client, **filters) -> set[int]:
    response = client.get(url("administration:journal"), filters)
    assert response.status_code == 200
    return {e.pk for e in response.context["page"].object_list}


def test_journal_filters(head_client, journal):
    ids = {k: v.pk for k, v in journal.items() if isinstance(v, AuditEvent)}
    college_events = {ids["zoe_reset"], ids["hugo_reset"], ids["hugo_deactivated"]}
    assert shown(head_client) == college_events
    assert shown(head_client, agent="vie-scolaire") == {ids["zoe_reset"]}
    assert shown(head_client, agent="principal-rapide") == {
        ids["hugo_reset"],
        ids["hugo_deactivated"],
    }
    # Pupil: name without accents or case, several words, or the identifier.
    assert shown(head_client, pupil="lefevre") == {ids["zoe_reset"]}
    assert shown(head_client, pupil="LEFÈVRE Zoé") == {ids["zoe_reset"]}
    assert shown(head_client, pupil="nguyen") == {ids["zoe_reset"]}
    assert shown(head_client, pupil=journal["hugo"].identifier) == {
        ids["hugo_reset"],
        ids["hugo_deactivated"],
    }
    assert shown(head_client, pupil="vasseur") == set()
    assert shown(head_client, action="account_deactivated") == {ids["hugo_deactivated"]}
    assert shown(head_client, action="password_reset", agent="principal") == {ids["hugo_reset"]}
    # Dates are local (Europe/Paris) days, both ends included.
    assert shown(head_client, start="2026-03-11", end="2026-03-11") == {ids["hugo_reset"]}
    assert shown(head_client, start="11/03/2026") == {ids["hugo_reset"], ids["hugo_deactivated"]}
    assert shown(head_client, end="2026-03-10") == {ids["zoe_reset"]}


def read_csv(response) -> tuple[str, list[list[str]]]:
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    text = body[3:].decode("utf-8")
    return text, list(csv.reader(io.StringIO(text), delimiter=";"))


HEADER = "Date;Heure;Agent;Action;Élève;Identifiant;Adresse IP;Détails"


def test_journal_csv_export(head_client, quick_head, college, journal):
    export = url("administration:journal_csv")
    assert head_client.get(export).status_code == 405
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORTED).exists()

    response = head_client.post(export, {"pupil": "lefèvre"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="journal-{UAI}-')
    text, rows = read_csv(response)
    assert text.splitlines()[0] == HEADER
    assert rows[1:] == [
        [
            "10/03/2026",
            "23:30:00",
            "vie-scolaire-rapide",
            "Réinitialisation du mot de passe",
            "Zoé N'Guyen-Lefèvre",
            journal["zoe"].identifier,
            "192.0.2.7",
            "",
        ]
    ]
    event = AuditEvent.objects.get(action=AuditEvent.Action.AUDIT_EXPORTED)
    assert (event.actor, event.establishment) == (quick_head, college)

    # Other filters, and never another establishment's events.
    _text, rows = read_csv(head_client.post(export, {"agent": "principal-rapide"}))
    assert [(r[3], r[5]) for r in rows[1:] if r[3] != "Export du journal"] == [
        ("Désactivation du compte", journal["hugo"].identifier),
        ("Réinitialisation du mot de passe", journal["hugo"].identifier),
    ]
    assert "reason=Départ" in [r[7] for r in rows[1:]]
    _text, rows = read_csv(head_client.post(export, {"start": "2026-03-11", "end": "2026-03-11"}))
    assert [r[:2] for r in rows[1:]] == [["11/03/2026", "00:30:00"]]
    text, rows = read_csv(head_client.post(export, {}))
    assert len(rows) == 1 + 3 + 3  # the three events and the three exports so far
    assert journal["foreign"].identifier not in text
    assert "Vasseur" not in text


def test_journal_csv_neutralises_formulas_and_holds_no_password(
    head_client, quick_head, college, zoe
):
    account, first_password = zoe
    evil, evil_password = make_pupil(
        college, first_name='=HYPERLINK("http://x.test")', last_name="A"
    )
    sneaky = make_delegate(college, username="+SUM(1;2)", quick=True)
    passwords = {first_password, evil_password}
    passwords.add(services.reset_password(sneaky, evil))
    passwords.add(services.reset_password(quick_head, account))
    services.force_password_change(quick_head, college, whole_establishment=True)
    for a in (account, evil):
        a.refresh_from_db()
        passwords.add(services.provisional_password(a))
    services.deactivate(quick_head, college, [evil.pk], reason="=1+1")

    text, rows = read_csv(head_client.post(url("administration:journal_csv"), {}))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "formula left in a cell"
    assert "'" + '=HYPERLINK("http://x.test") A' in cells
    assert "'+SUM(1;2)" in cells
    assert "reason==1+1" in cells
    for password in passwords:
        assert password not in text
    journal_page = head_client.get(url("administration:journal")).content.decode()
    for password in passwords:
        assert password not in journal_page


def test_the_lycee_head_cannot_export_the_colleges_journal(
    journal, quick_other_head, verified_client_for
):
    client = verified_client_for(quick_other_head)
    response = client.post(url("administration:journal_csv"), {})
    assert response.status_code == 403
    assert journal["zoe"].identifier.encode() not in response.content
    assert client.get(url("administration:journal")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORTED).exists()


def test_an_invalid_filter_does_not_widen_the_export(head_client, journal):
    # A mistyped date must not drop the other filters: exporting "vie-scolaire's actions"
    # must not hand out every pupil's entries of the journal.
    response = head_client.post(
        url("administration:journal_csv"), {"agent": "vie-scolaire", "start": "31/02/2026"}
    )
    if response.status_code == 200:
        _text, rows = read_csv(response)
        agents = {r[2] for r in rows[1:]}
        assert agents <= {"vie-scolaire-rapide"}, f"export widened to {agents}"
    else:
        # Refused: back to the journal with the form's error, and no file handed out.
        assert response.status_code in (302, 400)
        assert not response.get("Content-Type", "").startswith("text/csv")
        if response.status_code == 302:
            assert response["Location"].startswith(url("administration:journal"))


# --- Malformed input ---------------------------------------------------------------------------


def test_a_malformed_division_id_is_not_a_server_error(head_client, classes):
    head_client.raise_request_exception = False
    accounts = [*classes["targets"], *classes["others"]]
    before = [snapshot(a) for a in accounts]
    for confirm in ("", "1"):
        data = {"scope": "division", "division": "3A", "confirm": confirm}
        response = head_client.post(url("administration:forced_change"), data)
        assert response.status_code in (302, 400, 404), response.status_code
    assert [snapshot(a) for a in accounts] == before
    assert not AuditEvent.objects.exists()
