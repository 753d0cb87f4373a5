"""The second factor of staff (issue 11): enrolment (each display draws its own secret, one
secret per session), the code page, recovery codes and throttling."""

from __future__ import annotations

import base64
import datetime
import re
import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.urls.converters import IntConverter, UUIDConverter
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import otp
from educompte.audit.models import AuditEvent
from educompte.www.urls import administration_patterns

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


ENROL = "/portail/second-facteur/enrolement/"
VERIFY = "/portail/second-facteur/"
RECOVERY = "/portail/second-facteur/codes-de-secours/"
UAI = "0380001V"


# Every route of Administration des comptes, read from the URLconf: a new route is covered
# without touching this file.
ADMIN_ROUTES = {
    p.name: dict(p.pattern.converters)
    for p in administration_patterns[0]
    if isinstance(p, URLPattern)
}


def totp_code(device: TOTPDevice, *, offset: int = 0) -> str:
    """The code the agent's application shows now (``offset`` seconds later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    """A code valid at no time step within the tolerance."""
    valid = {totp_code(device, offset=s * device.step) for s in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in valid)


def wait_out_throttling(device: TOTPDevice | StaticDevice) -> None:
    """As if the agent waited: the last failure is an hour old."""
    type(device).objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - datetime.timedelta(hours=1)
    )


_NOTHING = {IntConverter: 999999, UUIDConverter: "00000000-0000-0000-0000-000000000000"}


def admin_url(name: str, delegation_id: int) -> str:
    # ``uai`` belongs to the include (administration/<uai>/), the rest to each route; a
    # parameter this file does not know gets a value that designates nothing.
    kwargs = {"uai": UAI}
    for param, converter in ADMIN_ROUTES[name].items():
        if param == "delegation_id":
            kwargs[param] = delegation_id
        else:
            kwargs[param] = _NOTHING.get(type(converter), "x")
    return reverse(f"administration:{name}", kwargs=kwargs)


def split_redirect(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, f"expected a redirect, got {response.status_code}"
    location = urlsplit(response["Location"])
    assert not location.netloc
    return location.path, parse_qs(location.query)


def is_verified(client: Client) -> bool:
    """The administration opens (200) only in a session verified by the second factor."""
    response = client.get(admin_url("pupils", 0))
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


# --- Enrolment ----------------------------------------------------------------------------


def _secret_on_page(body: str) -> str:
    match = re.search(r'id="otp-secret">([^<]*)<', body)
    assert match, "no #otp-secret on the enrolment page"
    return match.group(1).strip()


def test_enrolment_page_shows_the_secret_and_a_qr_code(client_for, quick_head):
    client = client_for(quick_head)
    response = client.get(ENROL)
    assert response.status_code == 200
    body = response.content.decode()
    device = TOTPDevice.objects.get(user=quick_head)
    assert not device.confirmed
    secret = _secret_on_page(body)
    assert secret.replace(" ", "") == base64.b32encode(device.bin_key).decode().rstrip("=")
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", secret)
    qr = re.search(r'<img[^>]*src="(data:image/svg\+xml;base64,([^"]+))"', body)
    assert qr, "no QR code image with an SVG data: URI"
    assert b"<svg" in base64.b64decode(qr.group(2))
    # Coming back draws a new key and discards this session's previous one (see
    # the enrolment tests below for the rule across pages and sessions).
    again = client.get(ENROL).content.decode()
    assert _secret_on_page(again) != secret
    assert TOTPDevice.objects.filter(user=quick_head).count() == 1


def test_enrolment_refuses_a_wrong_code(client_for, quick_head):
    client = client_for(quick_head)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=quick_head)
    response = client.post(ENROL, {"code": wrong_code(device), "device": device.pk})
    assert response.status_code == 400
    assert "Ce code n&#x27;est pas valide" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not otp.has_second_factor(quick_head)
    assert not StaticDevice.objects.filter(user=quick_head).exists()
    assert not is_verified(client)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.OTP_ENROLLED).exists()


def test_enrolment_with_the_right_code(client_for, quick_head):
    client = client_for(quick_head)
    pupils = admin_url("pupils", 0)
    path, query = split_redirect(client.get(pupils))
    assert path == ENROL
    client.get(ENROL, {"next": pupils})
    device = TOTPDevice.objects.get(user=quick_head)

    response = client.post(ENROL, {"code": totp_code(device), "next": pupils, "device": device.pk})
    path, query = split_redirect(response)
    assert path == RECOVERY
    assert query["next"] == [pupils]
    device.refresh_from_db()
    assert device.confirmed
    assert TOTPDevice.objects.filter(user=quick_head).count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.OTP_ENROLLED)
    assert event.actor == quick_head

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    codes = re.findall(r'<li class="ec-mono ec-password">([^<]+)</li>', body)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = set(
        StaticToken.objects.filter(device__user=quick_head).values_list("token", flat=True)
    )
    assert set(codes) == stored
    assert f'href="{pupils}"' in body
    # Shown once only.
    again = client.get(RECOVERY)
    assert split_redirect(again)[0] == reverse("portal:index")
    assert not any(c in again.content.decode() for c in codes)

    # The session is verified: the administration opens.
    assert client.get(pupils).status_code == 200
    # Enrolment is over: the page now sends to the code page.
    assert split_redirect(client.get(ENROL))[0] == VERIFY


# --- The code page ---------------------------------------------------------------------------


@pytest.fixture
def head_device(quick_head):
    return TOTPDevice.objects.create(user=quick_head, name="tel", confirmed=True)


def test_a_totp_code_is_accepted_once(client_for, quick_head, head_device):
    pupils = admin_url("pupils", 0)
    code = totp_code(head_device)
    first = client_for(quick_head)
    assert not is_verified(first)
    response = first.post(VERIFY, {"code": code, "next": pupils})
    assert split_redirect(response)[0] == pupils
    assert is_verified(first)

    # The same code, replayed in another session (e.g. seen over the agent's shoulder).
    second = client_for(quick_head)
    response = second.post(VERIFY, {"code": code, "next": pupils})
    assert response.status_code == 400
    assert "déjà été utilisé" in response.content.decode()
    assert not is_verified(second)

    # Control: the next code of the application is accepted in that session.
    wait_out_throttling(head_device)
    response = second.post(VERIFY, {"code": totp_code(head_device, offset=30), "next": pupils})
    assert split_redirect(response)[0] == pupils
    assert is_verified(second)


def test_a_recovery_code_works_once(client_for, quick_head, head_device):
    codes = otp.new_recovery_codes(quick_head)
    first = client_for(quick_head)
    page = first.get(VERIFY)
    assert "(10 restants)" in page.content.decode()
    response = first.post(VERIFY, {"code": codes[0].upper()})
    assert split_redirect(response)[0] == reverse("portal:index")
    assert is_verified(first)

    second = client_for(quick_head)
    page = second.get(VERIFY)
    assert "(9 restants)" in page.content.decode()
    refused = second.post(VERIFY, {"code": codes[0]})
    assert refused.status_code == 400
    assert "(9 restants)" in refused.content.decode()
    assert not is_verified(second)

    wait_out_throttling(StaticDevice.objects.get(user=quick_head))
    assert split_redirect(second.post(VERIFY, {"code": codes[1]}))[0] == "/portail/"
    assert is_verified(second)
    assert otp.remaining_recovery_codes(quick_head) == 8
    assert "(8 restants)" in second.get(VERIFY).content.decode()


def test_a_recovery_code_made_only_of_digits_is_accepted(client_for, quick_head, head_device):
    # Recovery codes are 8 random base32 characters (a-z, 2-7): about one agent in 150,000
    # gets one made of digits only. It must work like any other.
    device = StaticDevice.objects.create(user=quick_head, name=otp.RECOVERY_NAME, confirmed=True)
    StaticToken.objects.create(device=device, token="23456723")
    client = client_for(quick_head)
    response = client.post(VERIFY, {"code": "23456723"})
    assert response.status_code == 302, "a digits-only recovery code is refused"
    assert is_verified(client)


def test_repeated_failures_throttle_the_code_page(client_for, quick_head, head_device):
    client = client_for(quick_head)
    bad = wrong_code(head_device)
    # The server clock stands still: every attempt comes "right after" the failures.
    frozen = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        for _attempt in range(4):
            assert client.post(VERIFY, {"code": bad}).status_code == 400
        head_device.refresh_from_db()
        assert head_device.throttling_failure_count >= 1
        allowed, info = head_device.verify_is_allowed()
        assert not allowed
        # The right code, right after the failures, is refused too.
        response = client.post(VERIFY, {"code": totp_code(head_device)})
        assert response.status_code == 400
        assert not is_verified(client)

    # Control: once the back-off delay is over, the same right code goes through.
    later = frozen + datetime.timedelta(minutes=10)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.post(VERIFY, {"code": totp_code(head_device)}).status_code == 302
        assert is_verified(client)
    head_device.refresh_from_db()
    assert head_device.throttling_failure_count == 0


def test_code_page_without_device_leads_to_enrolment(client_for, quick_head):
    path, query = split_redirect(client_for(quick_head).get(VERIFY, {"next": "/portail/"}))
    assert path == ENROL
    assert query["next"] == ["/portail/"]
