"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import datetime

import pytest

from educompte.pupils import services
from educompte.pupils.models import StudentAccount

BIRTH = datetime.date(2011, 3, 14)
CHOSEN = "Une phrase de passe solide !"
ADDRESS = "zoe.famille@example.org"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


@pytest.fixture
def recoverable(zoe):
    """An activated pupil whose address is confirmed."""
    account, _provisional = zoe
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    StudentAccount.objects.filter(pk=account.pk).update(email=ADDRESS, email_confirmed=True)
    return fresh(account)
