"""The pupil's sign-in: the same answer for a wrong password or an unknown identifier,
expired provisional passwords, deactivated accounts, and its statements."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from educompte.accounts.models import ThrottleCounter
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import make_head, make_pupil
from tests.helpers import activate_through_the_web, new_client
from tests.html_helpers import error_alerts

pytestmark = pytest.mark.django_db
CHOSEN = "Une phrase de passe solide !"
FAILED_MESSAGE = "Identifiant ou mot de passe incorrect"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- Sign-in -----------------------------------------------------------------------------


def _sign_in_page(identifier: str, password: str):
    return new_client().post(reverse("pupil:login"), {"username": identifier, "password": password})


def test_wrong_password_and_unknown_identifier_get_the_same_answer(zoe):
    account, provisional = zoe
    wrong = _sign_in_page(account.identifier, "MAUVAISMDP")
    unknown = _sign_in_page("xinconnu999", provisional)
    assert wrong.status_code == unknown.status_code == 400
    assert error_alerts(wrong.content.decode()) == error_alerts(unknown.content.decode())
    assert any(FAILED_MESSAGE in alert for alert in error_alerts(wrong.content.decode()))
    assert services.sign_in_pupil("xinconnu999", provisional).outcome is SignIn.FAILED


def test_identifier_is_case_insensitive(zoe):
    account, provisional = zoe
    result = services.sign_in_pupil(f"  {account.identifier.upper()} ", provisional.lower())
    assert result.outcome is SignIn.ACTIVATE


def test_expired_provisional_password_is_refused_with_its_own_message(zoe):
    account, provisional = zoe
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.EXPIRED
    page = _sign_in_page(account.identifier, provisional)
    assert page.status_code == 400
    assert "a expiré" in page.content.decode()
    # A wrong password on an expired account says nothing about the expiry.
    assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.FAILED


def test_pupil_deactivated_by_the_school_is_signed_out_and_told_so(college, zoe):
    """An activated pupil, signed in, is deactivated in Administration: the open session
    ends; the right password is refused with "Ce compte est désactivé", a wrong one gets the
    usual answer (so nobody else learns the account's state)."""
    account, provisional = zoe
    pupil = new_client()
    activate_through_the_web(pupil, account, provisional)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    head = make_head(college, username="chef-desactivation", quick=True)
    services.deactivate(head, college, [account.pk], reason="Départ de l'établissement")
    assert fresh(account).state == AccountState.DEACTIVATED
    assert pupil.get(reverse("pupil:services")).status_code == 302
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.DEACTIVATED
    right = _sign_in_page(account.identifier, CHOSEN)
    assert right.status_code == 400
    assert "Ce compte est désactivé" in right.content.decode()
    assert "_auth_user_id" not in right.wsgi_request.session
    wrong = _sign_in_page(account.identifier, "pas-le-bon-mot-de-passe")
    assert wrong.status_code == 400
    assert "Ce compte est désactivé" not in wrong.content.decode()
    assert any(FAILED_MESSAGE in alert for alert in error_alerts(wrong.content.decode()))


WRONG = "AAAAAAAAAA"
BIRTH = datetime.date(2011, 3, 14)


# --- Sign-in: the pair counter and its DELETE -----------------------------------------------


def _throttle_deletes(queries) -> list[str]:
    table = ThrottleCounter._meta.db_table
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("DELETE") and table in q["sql"]
    ]


@pytest.mark.django_db(transaction=True)
def test_pupil_sign_in_through_the_page_takes_four_statements(college):
    account, _provisional = make_pupil(college)
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE
    credentials = {"username": account.identifier, "password": CHOSEN}
    url = reverse("pupil:login")
    client = new_client()
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, credentials)
    assert response.status_code == 302, response.content.decode()[:500]
    statements = [q["sql"] for q in queries]
    assert len(statements) <= 4, "\n".join(statements)
    assert _throttle_deletes(queries) == []
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    session = Session.objects.get(session_key=key)
    assert session.get_decoded()["_auth_user_id"] == str(account.user_id)
    assert client.get(reverse("pupil:services")).status_code == 200

    # With failures of this pair first, the sign-in clears them (one statement more).
    other = new_client()
    other.post(url, {**credentials, "password": WRONG})
    assert ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()
    with CaptureQueriesContext(connection) as queries:
        response = other.post(url, credentials)
    assert response.status_code == 302
    assert len(_throttle_deletes(queries)) == 1
    assert not ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()
