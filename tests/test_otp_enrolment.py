"""Second-factor enrolment (issue 11): each display of the enrolment page draws its own
secret, bound to the session that displayed it; confirming one discards every other, and
a code computed from an older page's secret is refused with a clear message."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import otp
from educompte.audit.models import AuditEvent
from tests.test_second_factor import (
    ENROL,
    RECOVERY,
    VERIFY,
    is_verified,
    split_redirect,
    wait_out_throttling,
)

pytestmark = pytest.mark.django_db

OUTDATED = "Cette page n&#x27;est plus valable"
WRONG = "Ce code n&#x27;est pas valide"


class Page:
    """One display of the enrolment page: its secret and its hidden device field."""

    def __init__(self, client: Client) -> None:
        response = client.get(ENROL)
        assert response.status_code == 200
        self.body = response.content.decode()
        self.secret = re.search(r'id="otp-secret">([^<]*)<', self.body).group(1).strip()
        self.device = re.search(r'name="device" value="(\d+)"', self.body).group(1)

    def code(self) -> str:
        """What an authenticator app fed with this page's secret shows now."""
        raw = self.secret.replace(" ", "")
        totp = TOTP(base64.b32decode(raw + "=" * (-len(raw) % 8)))
        totp.time = time.time()
        return f"{totp.token():06d}"


def test_two_sessions_of_the_same_agent_see_different_secrets(client_for, quick_head):
    first, second = Page(client_for(quick_head)), Page(client_for(quick_head))
    assert first.secret != second.secret
    assert first.secret not in second.body and second.secret not in first.body
    assert TOTPDevice.objects.filter(user=quick_head, confirmed=False).count() == 2


def test_each_display_draws_a_new_secret_and_drops_the_sessions_previous_one(
    client_for, quick_head
):
    client = client_for(quick_head)
    secrets = {Page(client).secret for _ in range(3)}
    assert len(secrets) == 3
    assert TOTPDevice.objects.filter(user=quick_head).count() == 1


def test_confirming_in_one_session_ends_the_other_sessions_secret(client_for, quick_head):
    first_client, second_client = client_for(quick_head), client_for(quick_head)
    first, second = Page(first_client), Page(second_client)

    response = second_client.post(ENROL, {"code": second.code(), "device": second.device})
    assert split_redirect(response)[0] == RECOVERY
    assert TOTPDevice.objects.filter(user=quick_head).count() == 1  # the others discarded

    # The first page's secret, answered in its own session: enrolment is over there.
    response = first_client.post(ENROL, {"code": first.code(), "device": first.device})
    assert split_redirect(response)[0] == VERIFY
    assert not is_verified(first_client)
    # Nor does it open the code page: it is no device of the agent any more.
    response = first_client.post(VERIFY, {"code": first.code()})
    assert response.status_code == 400
    assert not is_verified(first_client)
    # And no session is shown a secret again.
    assert split_redirect(client_for(quick_head).get(ENROL))[0] == VERIFY
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OTP_ENROLLED).count() == 1


def test_a_code_from_an_older_page_of_the_session_is_refused_clearly(client_for, quick_head):
    client = client_for(quick_head)
    older, newer = Page(client), Page(client)

    response = client.post(ENROL, {"code": older.code(), "device": older.device})
    assert response.status_code == 400
    body = response.content.decode()
    assert OUTDATED in body
    assert newer.secret in body and older.secret not in body  # the key to use now
    assert not otp.has_second_factor(quick_head)

    # Answered on the newer page, the older secret's code is just wrong.
    response = client.post(ENROL, {"code": older.code(), "device": newer.device})
    assert response.status_code == 400
    assert WRONG in response.content.decode()
    assert not otp.has_second_factor(quick_head)
    assert not is_verified(client)

    # Control: the newer page's code enrols (once the failure's back-off is over).
    wait_out_throttling(TOTPDevice.objects.get(pk=newer.device))
    response = client.post(ENROL, {"code": newer.code(), "device": newer.device})
    assert split_redirect(response)[0] == RECOVERY
    assert is_verified(client)


def test_a_session_cannot_confirm_the_secret_another_session_was_shown(client_for, quick_head):
    first_client, second_client = client_for(quick_head), client_for(quick_head)
    first, _second = Page(first_client), Page(second_client)
    # The second session replays the first page's answer (device and code).
    response = second_client.post(ENROL, {"code": first.code(), "device": first.device})
    assert response.status_code == 400
    assert OUTDATED in response.content.decode()
    assert not otp.has_second_factor(quick_head)
    assert not is_verified(second_client)


@pytest.mark.parametrize("device", ["", "abc", "-1", "9" * 30])
def test_a_missing_or_malformed_device_field_changes_nothing(client_for, quick_head, device):
    client = client_for(quick_head)
    page = Page(client)
    response = client.post(ENROL, {"code": page.code(), "device": device})
    assert response.status_code == 400
    body = response.content.decode()
    assert OUTDATED in body and page.secret in body  # the same key, to answer again
    assert not otp.has_second_factor(quick_head)


def test_a_blank_answer_keeps_the_pages_secret(client_for, quick_head):
    client = client_for(quick_head)
    page = Page(client)
    response = client.post(ENROL, {"code": "", "device": page.device})
    assert response.status_code == 400
    assert page.secret in response.content.decode()
    response = client.post(ENROL, {"code": page.code(), "device": page.device})
    assert split_redirect(response)[0] == RECOVERY
