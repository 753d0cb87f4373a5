"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from educompte.pupils.models import AccountState, StudentAccount
from tests.factories import make_pupil
from tests.registry_helpers import COEUR, import_xml


@pytest.fixture
def victim(college):
    """Zoé Cœur of the college: activated, chosen password, known to a service."""
    import_xml(college, [COEUR])
    account = StudentAccount.objects.select_related("user", "student").get()
    account.user.password = make_password("le mot de passe de Zoé")
    account.user.save(update_fields=["password"])
    account.state = AccountState.ACTIVE
    account.activated_at = timezone.now()
    account.provisional_password_encrypted = None
    account.save()
    return account


@pytest.fixture
def imported(college):
    """The college after its first import, plus a pupil created by hand since."""
    import_xml(college)
    make_pupil(college)
    return college
