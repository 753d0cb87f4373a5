"""Second factor for staff (TOTP, RFC 6238) and single-use recovery codes, on django-otp."""

from __future__ import annotations

import base64
import datetime
import io
import math
import time

import django_otp
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record

DEVICE_NAME = "Application d'authentification"
RECOVERY_NAME = "Codes de secours"


class WaitBeforeRetry(Exception):
    """django-otp refuses to check a code for a few seconds after a wrong one (1, 2, 4…
    seconds): the person is told to wait, not that the code is wrong."""

    def __init__(self, seconds: int):
        super().__init__(f"second factor locked for {seconds} s after failed attempts")
        self.seconds = seconds


def _wait_before_retry(device: TOTPDevice) -> None:
    allowed, data = device.verify_is_allowed()
    if not allowed and data and data.get("locked_until"):
        left = (data["locked_until"] - timezone.now()).total_seconds()
        raise WaitBeforeRetry(max(1, math.ceil(left)))


def clock_looks_off(device: TOTPDevice, token: str, *, minutes: int = 10) -> bool:
    """The refused code is one the application shows up to ``minutes`` earlier or later:
    the phone's clock is off. A mistyped code matches no such step (41 in a million)."""
    token = token.strip()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = time.time()
    steps = minutes * 60 // device.step
    for offset in range(-steps, steps + 1):
        totp.time = now + offset * device.step
        if f"{totp.token():0{device.digits}d}" == token:
            return True
    return False


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def is_verified(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_verified", lambda: False)())


# The enrolment page's pending device, bound to the session that displayed it.
PENDING_SESSION_KEY = "educompte.otp_pending"
# Unconfirmed devices older than this are abandoned enrolments: dropped at the next draw.
PENDING_LIFETIME = datetime.timedelta(days=1)


class EnrolmentOutdated(Exception):
    """The key the page showed is no longer this session's pending key (a newer page
    replaced it, or the agent confirmed another device meanwhile)."""


def draw_pending_device(request: HttpRequest) -> TOTPDevice:
    """A fresh unconfirmed device (a new secret) for one display of the enrolment page,
    bound to this session: a secret is never shown twice, nor to another session. The
    session's previous pending device and abandoned ones are discarded."""
    user = request.user
    stale = Q(created_at__lt=timezone.now() - PENDING_LIFETIME)
    previous = request.session.get(PENDING_SESSION_KEY)
    if isinstance(previous, int):
        stale |= Q(pk=previous)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).filter(stale).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    request.session[PENDING_SESSION_KEY] = device.pk
    return device


def session_pending_device(request: HttpRequest) -> TOTPDevice | None:
    """The device this session's latest enrolment page showed, while still unconfirmed."""
    pk = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pk, int):
        return None
    return TOTPDevice.objects.filter(pk=pk, user=request.user, confirmed=False).first()


def secret_text(device: TOTPDevice) -> str:
    """The shared secret in base32, grouped by four for typing into an app."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI (allowed by the CSP's img-src)."""
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@transaction.atomic
def confirm_enrolment(request: HttpRequest, token: str, device_id: int | None) -> list[str] | None:
    """Check the first code against the key of the page that was answered (``device_id``);
    on success mark that device confirmed, discard every other device of the agent (the
    pending keys of other pages and sessions), verify the session and return fresh
    recovery codes (shown once). None for a wrong code; EnrolmentOutdated when the page's
    key is no longer this session's pending key."""
    user = request.user
    # One enrolment at a time per agent: two sessions confirming at once would otherwise
    # each delete the other's device.
    User.objects.select_for_update().filter(pk=user.pk).first()
    device = session_pending_device(request)
    if device is None or device.pk != device_id or has_second_factor(user):
        raise EnrolmentOutdated
    _wait_before_retry(device)
    verified = django_otp.verify_token(user, device.persistent_id, token.strip())
    if verified is None:
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=verified.pk).delete()
    verified.confirmed = True
    verified.save(update_fields=["confirmed"])
    request.session.pop(PENDING_SESSION_KEY, None)
    django_otp.login(request, verified)
    record(AuditEvent.Action.OTP_ENROLLED, actor=user)
    return new_recovery_codes(user)


def new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.EDUCOMPTE_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def verify(request: HttpRequest, token: str) -> bool:
    """A TOTP code (accepted once) or a recovery code (consumed). Raises WaitBeforeRetry
    when the app's codes are locked for a few seconds after wrong ones."""
    user = request.user
    token = "".join(token.split()).lower()
    if not token:
        return False
    # Six digits is the app's code; recovery codes are eight characters of a-z2-7.
    kinds = [TOTPDevice] if len(token) == 6 and token.isdigit() else [StaticDevice]
    for model in kinds:
        for device in model.objects.filter(user=user, confirmed=True):
            if model is TOTPDevice:
                _wait_before_retry(device)
            verified = django_otp.verify_token(user, device.persistent_id, token)
            if verified is not None:
                django_otp.login(request, verified)
                return True
    return False


def remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


@transaction.atomic
def reset_second_factor(agent: User, *, by: authz.Principal) -> None:
    """Academy administrators (and the operator) only: the agent enrols again at next use."""
    authz.require_academy_admin(by)
    TOTPDevice.objects.filter(user=agent).delete()
    StaticDevice.objects.filter(user=agent).delete()
    record(AuditEvent.Action.OTP_RESET, actor=by, agent=agent.username)
