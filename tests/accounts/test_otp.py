"""What the second-factor pages say about a refused code: wait N seconds after wrong
codes (never « check your phone's clock » then), the clock only when it is off."""

from __future__ import annotations

import datetime
import time
from unittest import mock

import pytest
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import otp

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("&#39;", "'")


ENROL = "/portail/second-facteur/enrolement/"
VERIFY = "/portail/second-facteur/"


def code_at(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset
    return f"{totp.token():0{device.digits}d}"


def typo(device: TOTPDevice) -> str:
    """A code the application shows at no time within ten minutes."""
    near = {code_at(device, s * device.step) for s in range(-21, 22)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in near)


@pytest.fixture
def head_device(quick_head):
    return TOTPDevice.objects.create(user=quick_head, name="tel", confirmed=True)


def test_a_right_code_right_after_a_wrong_one_says_to_wait(client_for, quick_head, head_device):
    client = client_for(quick_head)
    frozen = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        assert client.post(VERIFY, {"code": typo(head_device)}).status_code == 400
        response = client.post(VERIFY, {"code": code_at(head_device)})
        text = page(response)
        assert response.status_code == 400
        assert "attendez 1 seconde," in text
        assert "heure" not in text
        # A wrong code during the wait is not counted as another failure.
        client.post(VERIFY, {"code": typo(head_device)})
        head_device.refresh_from_db()
        assert head_device.throttling_failure_count == 1
    with mock.patch(
        "django.utils.timezone.now", return_value=frozen + datetime.timedelta(seconds=2)
    ):
        assert client.post(VERIFY, {"code": code_at(head_device)}).status_code == 302


def test_the_wait_is_counted_by_the_service(rf, quick_head, head_device):
    head_device.throttle_increment()
    request = rf.post(VERIFY)
    request.user = quick_head
    request.session = {}
    with pytest.raises(otp.WaitBeforeRetry) as raised:
        otp.verify(request, code_at(head_device))
    assert raised.value.seconds == 1


def _pending(client) -> TOTPDevice:
    client.get(ENROL)
    return TOTPDevice.objects.filter(confirmed=False).latest("pk")


def test_enrolment_typo_does_not_blame_the_clock(client_for, quick_head):
    client = client_for(quick_head)
    device = _pending(client)
    text = page(client.post(ENROL, {"code": typo(device), "device": device.pk}))
    assert "Ce code n'est pas valide" in text
    assert "heure" not in text


def test_enrolment_code_of_another_time_blames_the_clock(client_for, quick_head):
    client = client_for(quick_head)
    device = _pending(client)
    five_minutes_late = code_at(device, -300)
    text = page(client.post(ENROL, {"code": five_minutes_late, "device": device.pk}))
    assert "l'heure de votre téléphone semble décalée" in text


def test_clock_check_matches_only_codes_of_nearby_times(quick_head, head_device):
    assert otp.clock_looks_off(head_device, code_at(head_device, 420))
    assert otp.clock_looks_off(head_device, code_at(head_device, -540))
    assert not otp.clock_looks_off(head_device, typo(head_device))
