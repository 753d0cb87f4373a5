"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import datetime

import pytest

from educompte.accounts import authz
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.sso import services as sso_services
from tests.factories import make_pupil
from tests.oidc_helpers import ALL_SCOPES, CALLBACK, LOGOUT_RETURN

BIRTH = datetime.date(2011, 3, 14)
CHOSEN = "Une phrase de passe solide !"
ADDRESS = "zoe.famille@example.org"


@pytest.fixture
def lea(lycee):
    """A pupil of the lycée, whom the college's delegate must never reach."""
    return make_pupil(lycee, first_name="Léa", last_name="Vasseur")


def activate(account: StudentAccount, password: str = CHOSEN) -> StudentAccount:
    services.activate(account, new_password=password, birth_date=BIRTH)
    return fresh(account)


@pytest.fixture
def active_zoe(zoe):
    account, _provisional = zoe
    return activate(account)


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


@pytest.fixture
def recoverable(active_zoe):
    """An activated pupil with a confirmed address."""
    StudentAccount.objects.filter(pk=active_zoe.pk).update(email=ADDRESS, email_confirmed=True)
    return fresh(active_zoe)


@pytest.fixture
def registered(db):
    return sso_services.register_service(
        "ENT Collège",
        [CALLBACK, "https://ent.example/other"],
        ALL_SCOPES,
        home_url="https://ent.example/",
        post_logout_redirect_uris=[LOGOUT_RETURN],
        by=authz.OPERATOR,
    )
