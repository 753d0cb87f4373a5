"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def head_client(verified_client_for, quick_head) -> Client:
    return verified_client_for(quick_head)
