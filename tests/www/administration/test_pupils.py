"""Administration des comptes, pupils: deactivation, reactivation, unlock and forced
password changes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter
from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import DivisionFactory, make_pupil

pytestmark = pytest.mark.django_db
UAI = "0380001V"
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
