"""Dépannage, resets: the session of the pupil ends, the daily limit and the alert of heads."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from educompte.accounts.models import StaffAlert, ThrottleCounter
from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from tests.factories import make_head, make_pupil
from tests.helpers import activate_through_the_web, new_client, signed_in

pytestmark = pytest.mark.django_db
UAI = "0380001V"


def url(name: str, *args, uai: str = UAI) -> str:
    return reverse(name, args=[uai, *args])


def redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert not location.netloc
    return location.path


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def portal(client: Client) -> str:
    return client.get(reverse("portal:index")).content.decode()


def snapshot(account: StudentAccount) -> tuple:
    """Everything a lifecycle action or a reset could change on an account."""
    account = StudentAccount.objects.select_related("user").get(pk=account.pk)
    counters = ThrottleCounter.objects.filter(user_id=account.user_id).order_by("key")
    return (
        account.state,
        bytes(account.provisional_password_encrypted or b""),
        account.provisional_issued_at,
        account.user.password,
        list(counters.values_list("key", "count", "locked_until")),
    )


# --- Guard rails on resets ---------------------------------------------------------------------


@pytest.fixture
def five(college):
    names = ["Anna", "Basile", "Chloé", "David", "Eva"]
    return [make_pupil(college, first_name=n, last_name="Fontaine")[0] for n in names]


def reset(client: Client, account: StudentAccount, **kwargs):
    return client.post(url("depannage:reset", account.pk), **kwargs)


def test_daily_reset_limit_in_the_console(settings, client_for, quick_delegate, quick_head, five):
    settings.EDUCOMPTE_DAILY_RESET_LIMIT = 3
    client = client_for(quick_delegate)
    for account in five[:3]:
        assert redirect_path(reset(client, account)) == url("depannage:pupils")
    fourth = five[3]
    before = snapshot(fourth)
    response = reset(client, fourth, follow=True)
    assert response.status_code == 200
    text = messages_of(response)
    assert "Limite atteinte" in text
    assert "au plus 3 mots de passe par jour" in text
    assert "il vous en reste 0" in text
    assert "Limite atteinte" in response.content.decode()
    assert snapshot(fourth) == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 3

    with pytest.raises(services.ResetLimitReached) as exc:
        services.reset_password(quick_delegate, fourth)
    assert (exc.value.limit, exc.value.remaining) == (3, 0)
    assert snapshot(fourth) == before
    # The ceiling is per agent and per day.
    services.reset_password(quick_head, fourth)
    yesterday = timezone.now() - datetime.timedelta(days=1)
    AuditEvent.objects.filter(actor=quick_delegate).update(created_at=yesterday)
    assert redirect_path(reset(client, five[4])) == url("depannage:pupils")


def test_bulk_reset_beyond_the_remaining_quota_is_refused_entirely(
    settings, client_for, quick_delegate, quick_head, college, five
):
    settings.EDUCOMPTE_DAILY_RESET_LIMIT = 3
    services.reset_password(quick_delegate, five[0])
    services.reset_password(quick_delegate, five[1])
    client = client_for(quick_delegate)
    before = {a.pk: snapshot(a) for a in five[2:]}
    data = {"comptes": [str(five[2].pk), str(five[3].pk)], "confirm": "1"}
    response = client.post(url("depannage:bulk_reset"), data, follow=True)
    assert response.status_code == 200
    assert "Limite atteinte" in messages_of(response)
    assert "il vous en reste 1" in messages_of(response)
    assert {a.pk: snapshot(a) for a in five[2:]} == before
    with pytest.raises(services.ResetLimitReached):
        services.reset_passwords(quick_delegate, college, [five[2].pk, five[3].pk])
    assert {a.pk: snapshot(a) for a in five[2:]} == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 2

    # A deactivated account in the selection is skipped, so it does not count.
    services.deactivate(quick_head, college, [five[4].pk], reason="Départ")
    data = {"comptes": [str(five[2].pk), str(five[4].pk)], "confirm": "1"}
    response = client.post(url("depannage:bulk_reset"), data)
    assert redirect_path(response).startswith(url("depannage:pupils") + "resultat/")
    assert snapshot(five[2]) != before[five[2].pk]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 3


@pytest.fixture
def alert_setup(settings, college, quick_head, quick_other_head):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EDUCOMPTE_RESET_ALERT_PER_HOUR = 2
    quick_head.email = "principal@ac-grenoble.fr"
    quick_head.save()
    make_head(college, username="adjoint", quick=True)  # a head without an e-mail address
    quick_other_head.email = "lycee@ac-grenoble.fr"  # head of another establishment
    quick_other_head.save()
    mail.outbox.clear()


def test_many_resets_within_an_hour_alert_the_heads(
    alert_setup,
    college,
    client_for,
    quick_delegate,
    quick_head,
    quick_other_head,
    five,
    django_capture_on_commit_callbacks,
):
    client = client_for(quick_delegate)
    for account in five[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            assert reset(client, account).status_code == 302
    assert not StaffAlert.objects.exists()
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[2]).status_code == 302
    alert = StaffAlert.objects.get()
    assert (alert.establishment, alert.agent, alert.kind) == (college, quick_delegate, "resets")
    assert "a réinitialisé 3 mots de passe" in alert.message
    assert quick_delegate.username in alert.message
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["principal@ac-grenoble.fr"]
    assert "Alerte" in sent.subject
    assert alert.message in sent.body
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RESET_ALERT).count() == 1

    # One alert an hour is enough.
    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[3]).status_code == 302
    assert StaffAlert.objects.count() == 1
    assert len(mail.outbox) == 1

    head = client_for(quick_head)
    assert "a réinitialisé 3 mots de passe" in portal(head)
    other = client_for(quick_other_head)
    assert "a réinitialisé 3 mots de passe" not in portal(other)
    dismiss = reverse("portal:dismiss_alert", args=[alert.pk])
    assert other.post(dismiss).status_code == 403
    assert client_for(quick_delegate).post(dismiss).status_code == 403
    alert.refresh_from_db()
    assert alert.dismissed_at is None

    assert redirect_path(head.post(dismiss)) == reverse("portal:index")
    alert.refresh_from_db()
    assert alert.dismissed_at is not None
    assert alert.dismissed_by == quick_head
    assert "a réinitialisé 3 mots de passe" not in portal(head)


def test_resets_older_than_an_hour_do_not_alert(
    alert_setup, client_for, quick_delegate, five, django_capture_on_commit_callbacks
):
    client = client_for(quick_delegate)
    for account in five[:2]:
        reset(client, account)
    AuditEvent.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert reset(client, five[2]).status_code == 302
    assert not StaffAlert.objects.exists()
    assert mail.outbox == []


def test_reset_ends_the_session_of_a_signed_in_pupil(college, quick_delegate, zoe):
    account, provisional = zoe
    pupil = new_client()
    activate_through_the_web(pupil, account, provisional)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    staff = signed_in(quick_delegate)
    staff.post(reverse("depannage:reset", args=[college.uai, account.pk]))
    response = pupil.get(reverse("pupil:services"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("pupil:login"))
