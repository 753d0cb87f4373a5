from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import (
    AGENT_PASSWORD,
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
