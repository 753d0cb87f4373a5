"""Administration des comptes never reaches the pupils of another establishment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from educompte.audit.models import AuditEvent
from educompte.pupils.models import StudentAccount
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db


# --- IDOR: the college's delegate and the lycée's pupils --------------------------------


def _snapshot(account: StudentAccount) -> tuple:
    row = StudentAccount.objects.select_related("user").get(pk=account.pk)
    return (
        row.state,
        bytes(row.provisional_password_encrypted or b""),
        row.provisional_issued_at,
        row.user.password,
    )


def _shows(body: str, account: StudentAccount, password: str) -> bool:
    return (
        account.identifier in body
        or password in body
        or "Vasseur" in body
        or f'name="comptes" value="{account.pk}"' in body
        or f'data-account="{account.pk}"' in body
    )


def _verified(user):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = signed_in(user)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.mark.parametrize("action", ["deactivate", "force", "unlock"])
def test_head_cannot_act_on_a_lycee_pupil_through_administration(college, quick_head, lea, action):
    account, password = lea
    before = _snapshot(account)
    client = _verified(quick_head)
    response = client.post(
        reverse("administration:account_action", args=[college.uai]),
        {"action": action, "comptes": [account.pk], "confirm": "1", "reason": "essai"},
        follow=True,
    )
    assert response.status_code in (200, 404)
    assert not _shows(response.content.decode(), account, password)
    assert _snapshot(account) == before
    assert not AuditEvent.objects.filter(account=account).exists()
