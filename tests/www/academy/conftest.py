"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def academy(verified_client_for, academy_admin) -> Client:
    return verified_client_for(academy_admin)
