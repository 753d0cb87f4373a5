"""educompte.pupils.services: resets, the establishment they are bound to, sign-in
failures and the audit trail."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.audit.models import AuditEvent
from educompte.pupils import selectors, services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import make_pupil
from tests.helpers import assert_nowhere_in_audit, new_client, raw_ciphertext, signed_in

pytestmark = pytest.mark.django_db


# --- IDOR: the college's delegate and the lycée's pupils --------------------------------


@pytest.fixture
def lea(lycee):
    """A pupil of the lycée, whom the college's delegate must never reach."""
    return make_pupil(lycee, first_name="Léa", last_name="Vasseur")


def test_services_refuse_foreign_pupils(college, lycee, quick_delegate, lea):
    account, _pw = lea
    with pytest.raises(PermissionDenied):
        services.reset_password(quick_delegate, account)
    with pytest.raises(PermissionDenied):
        services.reset_passwords(quick_delegate, lycee, [account.pk])
    assert services.reset_passwords(quick_delegate, college, [account.pk]).reset == []
    with pytest.raises(Http404):
        selectors.get_account(quick_delegate, college, account.pk)
    assert selectors.get_accounts(quick_delegate, college, [account.pk]) == []
    with pytest.raises(PermissionDenied):
        selectors.search_pupils(quick_delegate, lycee, selectors.PupilFilters())
    assert not selectors.search_pupils(
        quick_delegate, college, selectors.PupilFilters(query="Vasseur")
    ).exists()


CHOSEN = "Une phrase de passe solide !"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- Resets ------------------------------------------------------------------------------


def test_reset_gives_a_new_password_and_the_old_one_stops(college, quick_delegate, zoe):
    account, old = zoe
    new = services.reset_password(quick_delegate, fresh(account), ip="203.0.113.7")
    assert new != old
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}", new)
    assert services.sign_in_pupil(account.identifier, old).outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, new).outcome is SignIn.ACTIVATE
    assert fresh(account).state == AccountState.INFORMED
    assert services.provisional_password(fresh(account)) == new


def test_reset_writes_an_audit_event_without_the_password(college, quick_delegate, zoe):
    account, old = zoe
    client = signed_in(quick_delegate)
    response = client.post(
        reverse("depannage:reset", args=[college.uai, account.pk]), REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302
    new = services.provisional_password(fresh(account))
    event = AuditEvent.objects.get(action=AuditEvent.Action.PASSWORD_RESET)
    assert event.actor == quick_delegate
    assert event.actor_label == quick_delegate.username
    assert event.establishment == college
    assert event.account_id == account.pk
    assert event.subject_label == account.identifier
    assert event.ip_address == "203.0.113.7"
    assert_nowhere_in_audit(old, new)


@pytest.mark.parametrize("state", [AccountState.NOT_INFORMED, AccountState.INFORMED])
def test_reset_of_a_not_activated_account_leaves_it_informed(college, quick_delegate, state):
    account, _pw = make_pupil(college, state=state)
    services.reset_password(quick_delegate, fresh(account))
    assert fresh(account).state == AccountState.INFORMED


def test_reset_of_an_active_account_makes_the_chosen_password_stop(college, quick_delegate, zoe):
    account, provisional = zoe
    services.activate(fresh(account), new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
    new = services.reset_password(quick_delegate, fresh(account))
    account = fresh(account)
    assert account.state == AccountState.INFORMED
    assert account.activated_at is None
    assert not account.user.has_usable_password()
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, new).outcome is SignIn.ACTIVATE


def test_reset_of_a_deactivated_account_is_refused(college, quick_delegate):
    account, _pw = make_pupil(college, state=AccountState.DEACTIVATED)
    before = raw_ciphertext(account)
    with pytest.raises(services.AccountDeactivated):
        services.reset_password(quick_delegate, fresh(account))
    assert fresh(account).state == AccountState.DEACTIVATED
    assert raw_ciphertext(account) == before


# --- Sign-in -----------------------------------------------------------------------------


def _sign_in_page(identifier: str, password: str):
    return new_client().post(reverse("pupil:login"), {"username": identifier, "password": password})


def test_provisional_password_expires_after_the_configured_days(zoe, settings):
    account, _pw = zoe
    account = fresh(account)
    delta = account.provisional_expires_at - account.provisional_issued_at
    assert delta == datetime.timedelta(days=settings.EDUCOMPTE_PROVISIONAL_PASSWORD_DAYS)


def test_deactivated_account_cannot_sign_in(college):
    account, provisional = make_pupil(college, state=AccountState.DEACTIVATED)
    result = services.sign_in_pupil(account.identifier, provisional)
    assert result.outcome not in (SignIn.OK, SignIn.ACTIVATE)
    page = _sign_in_page(account.identifier, provisional)
    assert page.status_code == 400
    assert "_auth_user_id" not in page.wsgi_request.session


def test_repeated_failures_lock_the_account(zoe):
    account, provisional = zoe
    for _ in range(throttling.FREE_FAILURES - 1):
        assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.LOCKED
    # Even the right password waits until the lock ends.
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.LOCKED
    later = timezone.now() + datetime.timedelta(hours=2)
    assert (
        services.sign_in_pupil(account.identifier, provisional, now=later).outcome
        is SignIn.ACTIVATE
    )
