"""The second factor (TOTP and recovery codes) in front of Administration des comptes."""

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
from educompte.accounts.models import Delegation, Right
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState
from educompte.www.urls import administration_patterns
from tests.factories import make_delegate

pytestmark = pytest.mark.django_db

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


def request_route(client: Client, url: str):
    """GET, or POST (no CSRF check) on the POST-only routes."""
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


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


def test_admin_routes_are_read_from_the_urlconf():
    assert {"pupils", "account_action", "delegations", "journal_csv"} <= ADMIN_ROUTES.keys()


# --- Every administration route leads to the second factor, never to a refusal ----------


@pytest.fixture
def delegation(college, quick_delegate):
    return Delegation.objects.get(agent=quick_delegate, establishment=college)


def _outcome(client: Client, url: str) -> tuple[str, str, dict]:
    """(requested url, status or redirect path, query) — a plain redirect to another page of
    the application (the app's home) is followed once."""
    response = request_route(client, url)
    if response.status_code == 302:
        path, query = split_redirect(response)
        if path.startswith(f"/administration/{UAI}/"):
            url, response = path, client.get(path)
    if response.status_code != 302:
        return url, str(response.status_code), {}
    path, query = split_redirect(response)
    return url, path, query


@pytest.mark.parametrize("has_device", [False, True], ids=["no_device", "confirmed_device"])
def test_head_without_second_factor_is_led_to_it_from_every_route(
    client_for, quick_head, delegation, zoe, has_device
):
    if has_device:
        TOTPDevice.objects.create(user=quick_head, name="tel", confirmed=True)
    target = VERIFY if has_device else ENROL
    account, _pw = zoe
    client = client_for(quick_head)
    wrong = []
    for name in sorted(ADMIN_ROUTES):
        url, where, query = _outcome(client, admin_url(name, delegation.pk))
        if where != target or query.get("next") != [url]:
            wrong.append(f"{name}: {where} {query}")
    assert not wrong, f"not led to {target}: {wrong}"
    # Nothing happened on the way.
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert not AuditEvent.objects.exists()
    assert TOTPDevice.objects.filter(user=quick_head, confirmed=True).count() == int(has_device)


def test_unverified_head_cannot_act_with_a_complete_form(client_for, quick_head, college, zoe):
    account, _pw = zoe
    client = client_for(quick_head)
    url = admin_url("account_action", 0)
    data = {"action": "deactivate", "comptes": [account.pk], "confirm": "1", "reason": "x"}
    path, _query = split_redirect(client.post(url, data))
    assert path == ENROL
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
    path, _query = split_redirect(
        client.post(admin_url("forced_change", 0), {"scope": "establishment", "confirm": "1"})
    )
    assert path == ENROL
    assert not AuditEvent.objects.exists()


def test_delegated_administration_also_asks_for_the_second_factor(college, client_for):
    agent = make_delegate(college, Right.ADMINISTRATION, username="cpe", quick=True)
    path, query = split_redirect(client_for(agent).get(admin_url("pupils", 0)))
    assert path == ENROL
    assert query["next"] == [admin_url("pupils", 0)]


def test_agent_without_the_administration_right_is_refused_everywhere(
    verified_client_for, quick_delegate, quick_agent, delegation
):
    # Dépannage only (or no right at all), even in a verified session: refused, not led to a
    # code page.
    for agent in (quick_delegate, quick_agent):
        client = verified_client_for(agent)
        wrong = []
        for name in sorted(ADMIN_ROUTES):
            _url, where, _query = _outcome(client, admin_url(name, delegation.pk))
            if where != "403":
                wrong.append(f"{name}: {where}")
        assert not wrong, f"{agent}: not refused on {wrong}"
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def test_portal_lists_administration_only_to_those_who_hold_it(
    client_for, quick_delegate, quick_head, quick_agent
):
    body = client_for(quick_delegate).get(reverse("portal:index")).content.decode()
    assert "Dépannage des comptes élèves" in body
    assert "Administration des comptes" not in body
    assert f"/administration/{UAI}/" not in body
    body = client_for(quick_agent).get(reverse("portal:index")).content.decode()
    assert "Administration des comptes" not in body
    assert "Dépannage des comptes élèves" not in body
    # Control: the head sees the tile (the code is asked when it is opened).
    body = client_for(quick_head).get(reverse("portal:index")).content.decode()
    assert "Administration des comptes" in body
    assert f'href="/administration/{UAI}/eleves/"' in body


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
    # test_otp_enrolment.py for the rule across pages and sessions).
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
