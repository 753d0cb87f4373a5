from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import (
    AGENT_PASSWORD,
    AgentFactory,
    EstablishmentFactory,
    make_delegate,
    make_head,
    make_pupil,
)


@pytest.fixture
def college(db):
    return EstablishmentFactory(uai="0380001V", name="Collège Jean Moulin")


@pytest.fixture
def lycee(db):
    return EstablishmentFactory(uai="0380002W", name="Lycée Marie Curie")


@pytest.fixture
def head(college):
    return make_head(college, username="principal")


@pytest.fixture
def delegate(college):
    return make_delegate(college, username="vie-scolaire")


@pytest.fixture
def other_head(lycee):
    return make_head(lycee, username="principal2")


@pytest.fixture
def zoe(college):
    return make_pupil(college)


def signed_in_client(user, password: str = AGENT_PASSWORD) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def client_for():
    return signed_in_client


@pytest.fixture
def agent_password() -> str:
    return AGENT_PASSWORD


# Agents signed in with ``force_login`` only: no Argon2 hash is computed for them.


@pytest.fixture
def quick_head(college):
    return make_head(college, username="principal-rapide", quick=True)


@pytest.fixture
def quick_delegate(college):
    return make_delegate(college, username="vie-scolaire-rapide", quick=True)


@pytest.fixture
def quick_other_head(lycee):
    return make_head(lycee, username="principal2-rapide", quick=True)


@pytest.fixture
def quick_agent(db):
    """An agent with no headship and no delegation anywhere."""
    return AgentFactory(username="agent-sans-droit", quick=True)


# --- Second factor: sessions verified the way django_otp.login leaves them -------------


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


@pytest.fixture
def verified_client_for():
    return verified_client


@pytest.fixture
def academy_admin(db):
    return AgentFactory(username="admin-academique", is_academy_admin=True, quick=True)


# --- Mail kept in memory (django.core.mail.outbox) -------------------------------------


@pytest.fixture
def locmem_mail(settings):
    """Mail goes to ``django.core.mail.outbox`` (emptied first), also from the live server."""
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if not hasattr(mail, "outbox"):
        mail.outbox = []
    mail.outbox.clear()
    return mail.outbox
