"""Administration académique, agents: the reset of an agent's second factor."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import otp
from educompte.accounts.models import Assignment
from educompte.audit.models import AuditEvent
from educompte.schools.models import Establishment
from tests.factories import make_pupil

pytestmark = pytest.mark.django_db
ENROL = "/portail/second-facteur/enrolement/"


def redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def establishment_url(uai: str) -> str:
    return reverse("academy:establishment", args=[uai])


def _state() -> tuple:
    return (
        list(Establishment.objects.order_by("pk").values_list("uai", "name", "closed_at")),
        list(Assignment.objects.order_by("pk").values_list("agent", "establishment", "role")),
        TOTPDevice.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Agents' second factors --------------------------------------------------------------------


def test_reset_an_agents_second_factor(
    academy, academy_admin, college, quick_head, verified_client_for
):
    make_pupil(college)
    head = verified_client_for(quick_head)
    otp.new_recovery_codes(quick_head)
    pupils = reverse("administration:pupils", args=[college.uai])
    assert head.get(pupils).status_code == 200
    agents = academy.get(reverse("academy:agents"), {"q": quick_head.username})
    assert "Enregistré" in agents.content.decode()

    response = academy.post(reverse("academy:reset_otp", args=[quick_head.pk]))
    assert redirect_path(response) == reverse("academy:agents")
    assert not TOTPDevice.objects.filter(user=quick_head).exists()
    assert not StaticDevice.objects.filter(user=quick_head).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.OTP_RESET)
    assert event.actor == academy_admin
    assert event.details == {"agent": quick_head.username}
    followed = academy.get(response["Location"])
    assert "Non enregistré" in followed.content.decode()
    assert "réinitialisé" in messages_of(followed)

    # The agent's verified session is verified no more: enrolment again.
    response = head.get(pupils)
    assert redirect_path(response) == ENROL
    assert head.get(ENROL).status_code == 200


def test_an_academy_administrator_cannot_reset_their_own_second_factor(academy, academy_admin):
    own = TOTPDevice.objects.get(user=academy_admin)
    response = academy.post(reverse("academy:reset_otp", args=[academy_admin.pk]), follow=True)
    assert response.status_code == 200
    assert "propre second facteur" in messages_of(response)
    assert TOTPDevice.objects.filter(pk=own.pk, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.OTP_RESET).exists()
    assert academy.get(reverse("academy:index")).status_code == 200  # still verified


def test_reset_otp_of_a_pupil_login_is_404(academy, zoe):
    account, _pw = zoe
    response = academy.post(reverse("academy:reset_otp", args=[account.user.pk]))
    assert response.status_code == 404


def test_a_malformed_agent_id_is_not_a_server_error(academy, college, quick_head):
    academy.raise_request_exception = False
    before = _state()
    response = academy.post(establishment_url(college.uai), {"what": "remove_head", "agent": "x"})
    assert response.status_code in (400, 404), response.status_code
    assert _state() == before
