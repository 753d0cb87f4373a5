"""Dépannage, unlocking a pupil locked by the sign-in throttling."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from educompte.accounts import throttling
from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.helpers import signed_in
from tests.html_helpers import account_rows, table_headers

UTC = datetime.UTC


# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
WRONG = "AAAAAAAAAA"
FLOODER, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def _far_expiry(account: StudentAccount) -> StudentAccount:
    """The tests' clock (2030) is far ahead: keep the provisional password valid until then."""
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    account.refresh_from_db()
    return account


@pytest.fixture
def zoe(zoe):
    account, password = zoe
    return _far_expiry(account), password


# --- Staff lift the ceiling (Dépannage, "Débloquer") ----------------------------------------


def _block_for_real(account) -> None:
    """Reach the daily ceiling now (the console reads the real clock)."""
    for i in range(25):
        services.sign_in_pupil(account.identifier, WRONG, ip=f"192.0.2.{i + 1}")
    assert services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is (
        SignIn.LOCKED
    )


def test_unlock_by_a_delegated_agent_lifts_the_ceiling(college, quick_delegate, zoe):
    account, provisional = zoe
    _block_for_real(account)
    assert account.user_id in throttling.blocked_until([account.user_id])

    assert services.unlock(quick_delegate, college, [account.pk], ip="192.0.2.250") == 1
    assert throttling.blocked_until([account.user_id]) == {}
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_UNLOCKED)
    assert (event.actor, event.account, event.establishment) == (quick_delegate, account, college)
    assert event.ip_address == "192.0.2.250"
    for ip in (ELSEWHERE, "192.0.2.1"):
        assert services.sign_in_pupil(account.identifier, provisional, ip=ip).outcome is (
            SignIn.ACTIVATE
        )
    # Nothing left to unlock: no second event.
    assert services.unlock(quick_delegate, college, [account.pk]) == 0
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_UNLOCKED).count() == 1


def _state_cell(html: str, account) -> str:
    headers = table_headers(html)
    return account_rows(html)[account.pk][headers.index("État du compte")]


def test_debloquer_in_depannage(college, quick_delegate, zoe):
    account, provisional = zoe
    _block_for_real(account)
    staff = signed_in(quick_delegate)
    pupils_url = reverse("depannage:pupils", args=[college.uai])

    before = staff.get(pupils_url)
    assert before.status_code == 200
    assert "Bloqué jusqu'à" in _state_cell(before.text, account)
    assert "Débloquer" in _state_cell(before.text, account)

    response = staff.post(
        reverse("depannage:unlock", args=[college.uai, account.pk]), REMOTE_ADDR="192.0.2.251"
    )
    assert response.status_code == 302
    assert response["Location"] == pupils_url
    after = staff.get(pupils_url)
    assert "Bloqué jusqu'à" not in after.text
    assert "est débloqué" in after.text
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_UNLOCKED)
    assert (event.actor, event.account) == (quick_delegate, account)
    assert services.sign_in_pupil(account.identifier, provisional, ip=ELSEWHERE).outcome is (
        SignIn.ACTIVATE
    )


def test_agent_of_another_establishment_cannot_unlock(college, lycee, quick_other_head, zoe):
    account, _provisional = zoe
    _block_for_real(account)
    staff = signed_in(quick_other_head)
    refused = staff.post(reverse("depannage:unlock", args=[college.uai, account.pk]))
    assert refused.status_code == 403
    # Through their own establishment's URL, the college's pupil does not exist.
    assert staff.post(reverse("depannage:unlock", args=[lycee.uai, account.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        services.unlock(quick_other_head, college, [account.pk])
    assert services.unlock(quick_other_head, lycee, [account.pk]) == 0
    assert account.user_id in throttling.blocked_until([account.user_id])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_UNLOCKED).exists()
