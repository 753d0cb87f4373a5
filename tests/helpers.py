"""Shared helpers of the tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import datetime
import json

from django.test import Client
from django.test.client import ClientHandler

from educompte.audit.models import AuditEvent
from educompte.letters import pdf

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


def _letter(**overrides) -> pdf.LetterData:
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
