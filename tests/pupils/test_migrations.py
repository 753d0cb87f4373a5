"""Data migrations of the pupils app."""

from __future__ import annotations

import datetime

import pytest

from educompte.pupils import services
from educompte.pupils.models import StudentAccount

pytestmark = pytest.mark.usefixtures("locmem_mail")
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


def unchanged(account: StudentAccount) -> bool:
    after = fresh(account)
    return (after.email, after.email_confirmed, after.pending_email) == (ADDRESS, True, "")


def test_the_migration_moves_unconfirmed_addresses_out_of_the_recovery_field(recoverable, college):
    """Before, an unconfirmed address sat in ``email``; it now waits in ``pending_email``."""
    import importlib

    from django.apps import apps

    from tests.factories import make_pupil

    migration = importlib.import_module("educompte.pupils.migrations.0007_pending_email")
    legacy, _pw = make_pupil(college, first_name="Hugo", last_name="Martin")
    StudentAccount.objects.filter(pk=legacy.pk).update(email="hugo@example.org")
    migration.move_unconfirmed(apps, None)
    moved = fresh(legacy)
    assert (moved.email, moved.email_confirmed, moved.pending_email) == (
        "",
        False,
        "hugo@example.org",
    )
    assert unchanged(recoverable)  # a confirmed address stays where it is
    migration.move_back(apps, None)
    back = fresh(legacy)
    assert (back.email, back.email_confirmed, back.pending_email) == (
        "hugo@example.org",
        False,
        "hugo@example.org",
    )
