"""Shared helpers of the tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import datetime
import json

from django.db import connection
from django.test import Client
from django.test.client import ClientHandler
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts.models import ThrottleCounter
from educompte.audit.models import AuditEvent
from educompte.letters import pdf
from educompte.pupils.models import StudentAccount
from tests.factories import AGENT_PASSWORD

# --- Clients ------------------------------------------------------------------------------


_HANDLERS: dict[bool, ClientHandler] = {}


def new_client(*, enforce_csrf_checks: bool = False, **defaults) -> Client:
    """A test Client whose request handler (and so its middleware chain) is shared.

    Loading the middleware is what costs in a fresh Client: WhiteNoise scans every static
    file (DSFR ships ~1,600) when it starts. Sharing a loaded handler between clients keeps
    the full middleware stack while paying that once per test session.
    """
    client = Client(enforce_csrf_checks=enforce_csrf_checks, **defaults)
    handler = _HANDLERS.get(enforce_csrf_checks)
    if handler is None:
        handler = _HANDLERS[enforce_csrf_checks] = client.handler
    client.handler = handler
    return client


def signed_in(user, *, enforce_csrf_checks: bool = False) -> Client:
    client = new_client(enforce_csrf_checks=enforce_csrf_checks)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def signed_in_client(user, password: str = AGENT_PASSWORD) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def verified_client(user) -> Client:
    """A client signed in as ``user`` whose session passed the second factor (a confirmed
    TOTP device of the user, recorded in the session as ``django_otp.login`` does)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = signed_in_client(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def verified(user) -> Client:
    """Signed in with a session that passed the second factor (as django_otp.login does)."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = signed_in(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


# --- The audit trail ----------------------------------------------------------------------


def audit_texts() -> list[str]:
    """Every audit event as one text holding each of its columns (details included)."""
    texts = []
    for event in AuditEvent.objects.all():
        values = []
        for field in AuditEvent._meta.concrete_fields:
            value = getattr(event, field.attname)
            values.append(json.dumps(value, default=str) if field.name == "details" else str(value))
        texts.append("\n".join(values))
    return texts


def assert_nowhere_in_audit(*secrets: str) -> None:
    texts = audit_texts()
    assert texts, "no audit event to check"
    for secret in secrets:
        for text in texts:
            assert secret not in text, "an audit event holds a password"
            assert secret.lower() not in text.lower(), "an audit event holds a password"


# --- Pupils -------------------------------------------------------------------------------


CHOSEN = "Une phrase de passe solide !"
ZOE_BIRTH = "14/03/2011"


def activate_through_the_web(client, account, provisional) -> None:
    start = client.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start.status_code == 302
    assert start["Location"] == reverse("pupil:activate")
    done = client.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:services")


def raw_ciphertext(account: StudentAccount) -> bytes:
    table = StudentAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT provisional_password_encrypted FROM {table} WHERE id = %s",  # noqa: S608
            [account.pk],
        )
        return bytes(cursor.fetchone()[0])


def lock_account(user_id: int, until: datetime.datetime, *, key: str = "") -> None:
    """A lock of the account (``key`` a pair's key for a lock of one address)."""
    ThrottleCounter.objects.create(
        key=key or f"account:u{user_id}",
        kind=key.split(":")[0] if key else "account",
        user_id=user_id,
        count=25,
        window_start=timezone.now() - datetime.timedelta(hours=1),
        locked_until=until,
    )


# --- Credential letters -------------------------------------------------------------------


def letter_data(**overrides) -> pdf.LetterData:
    values = dict(
        establishment_name="Lycée Sœur Marie-Thérèse",
        establishment_uai="0380002W",
        first_name="Maëlle",
        last_name="L'Hôpital-Cœur",
        division="2nde 3",
        identifier="lmael123",
        password="ABCDEFGH23",
        expires_on=datetime.date(2027, 2, 26),
        sign_in_url="http://127.0.0.1:8000/connexion/",
    )
    values.update(overrides)
    return pdf.LetterData(**values)
