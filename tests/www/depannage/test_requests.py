"""Dépannage, the requests of pupils who asked their school for help."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from educompte.audit.models import AuditEvent
from educompte.pupils import recovery, services
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.pupils.services import SignIn
from tests.helpers import new_client, signed_in

pytestmark = pytest.mark.usefixtures("locmem_mail")
CHOSEN = "Une phrase de passe solide !"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def events(action: str):
    return AuditEvent.objects.filter(action=action)


# --- Demander à mon établissement ----------------------------------------------------------


def _ask(identifier: str, class_given: str = "3A", message: str = "", **extra):
    return new_client().post(
        reverse("pupil:ask_school"),
        {"identifier": identifier, "class_given": class_given, "message": message},
        **extra,
    )


def _handle(staff, establishment, request, outcome: str):
    return staff.post(
        reverse("depannage:handle_request", args=[establishment.uai, request.pk]),
        {"outcome": outcome},
        REMOTE_ADDR="192.0.2.20",
    )


def test_staff_reset_the_password_and_close_the_request(college, quick_delegate, active_zoe):
    """A pupil who forgot the chosen password and has no address asks the school."""
    _ask(active_zoe.identifier)
    request = SupportRequest.objects.get()
    staff = signed_in(quick_delegate)
    done = _handle(staff, college, request, "reset")
    assert done.status_code == 302
    assert done["Location"] == reverse("depannage:requests", args=[college.uai])

    page = staff.get(done["Location"])
    after = fresh(active_zoe)
    assert after.state == AccountState.INFORMED
    new_password = services.provisional_password(after)
    assert new_password
    banner = re.search(r'<div[^>]*id="reset-banner".*?</div>', page.text, flags=re.S).group(0)
    assert active_zoe.identifier in banner
    assert f"data-password>{new_password}<" in banner
    assert "Aucune demande en attente" in page.text

    request.refresh_from_db()
    assert request.status == SupportRequest.Status.HANDLED
    assert request.handled_by == quick_delegate
    assert request.handled_at is not None
    reset = events(AuditEvent.Action.PASSWORD_RESET).get()
    closed = events(AuditEvent.Action.REQUEST_CLOSED).get()
    assert (reset.actor, reset.account) == (quick_delegate, active_zoe)
    assert (closed.actor, closed.account) == (quick_delegate, active_zoe)
    assert closed.details["outcome"] == SupportRequest.Status.HANDLED
    assert "demande d'élève" not in staff.get(reverse("portal:index")).text

    result = services.sign_in_pupil(active_zoe.identifier, new_password)
    assert result.outcome is SignIn.ACTIVATE
    assert services.sign_in_pupil(active_zoe.identifier, CHOSEN).outcome is SignIn.FAILED


def test_staff_close_a_request_without_follow_up(college, quick_delegate, zoe):
    account, provisional = zoe
    _ask(account.identifier)
    request = SupportRequest.objects.get()
    staff = signed_in(quick_delegate)
    done = _handle(staff, college, request, "dismiss")
    assert done.status_code == 302
    page = staff.get(done["Location"])
    assert "Demande close sans suite" in page.text
    assert 'id="reset-banner"' not in page.text
    request.refresh_from_db()
    assert request.status == SupportRequest.Status.DISMISSED
    assert request.handled_by == quick_delegate
    assert services.provisional_password(fresh(account)) == provisional
    assert not events(AuditEvent.Action.PASSWORD_RESET).exists()
    closed = events(AuditEvent.Action.REQUEST_CLOSED).get()
    assert closed.details["outcome"] == SupportRequest.Status.DISMISSED
    # A closed request cannot be handled again.
    assert _handle(staff, college, request, "reset").status_code == 404


def test_staff_of_another_establishment_do_not_see_the_request(
    college, lycee, quick_other_head, zoe
):
    account, provisional = zoe
    _ask(account.identifier)
    request = SupportRequest.objects.get()
    staff = signed_in(quick_other_head)

    own = staff.get(reverse("depannage:requests", args=[lycee.uai]))
    assert own.status_code == 200
    assert account.identifier not in own.text
    assert "Aucune demande en attente" in own.text
    assert "demande d'élève" not in staff.get(reverse("portal:index")).text
    assert staff.get(reverse("depannage:requests", args=[college.uai])).status_code == 403
    assert _handle(staff, college, request, "reset").status_code == 403
    assert _handle(staff, lycee, request, "reset").status_code == 404
    assert recovery.open_requests(quick_other_head, lycee) == []
    with pytest.raises(PermissionDenied):
        recovery.open_requests(quick_other_head, college)
    with pytest.raises(PermissionDenied):
        recovery.close_request(quick_other_head, college, request.pk, handled=False)

    request.refresh_from_db()
    assert request.status == SupportRequest.Status.OPEN
    assert services.provisional_password(fresh(account)) == provisional
    assert not events(AuditEvent.Action.REQUEST_CLOSED).exists()
