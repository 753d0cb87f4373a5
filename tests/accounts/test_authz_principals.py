"""``accounts.authz``'s principals and refusals, and the services that check them
themselves: every writer refuses an agent without the right when called directly, not
only through the view's decorator; the operator (``authz.OPERATOR``) holds every right."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import authz, otp
from educompte.accounts import services as account_services
from educompte.accounts.models import Assignment, Delegation, Right, StaffAlert, User
from educompte.audit.models import AuditEvent
from educompte.schools import academy
from educompte.schools import services as school_services
from educompte.schools.models import Establishment, Mef
from educompte.sso import services as sso_services
from educompte.sso.models import Service
from tests.factories import AgentFactory, make_delegate
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db

DEP, ADM = Right.DEPANNAGE, Right.ADMINISTRATION
DAY = datetime.timedelta(days=1)
CALLBACK = "https://ent.example/cb"


def _in_a_month() -> datetime.date:
    return timezone.localdate() + 30 * DAY


def _grant_reads(queries) -> int:
    """Statements reading an agent's grants (the headships-and-delegations UNION)."""
    delegations = Delegation._meta.db_table
    return sum(1 for q in queries if "UNION ALL" in q["sql"] and delegations in q["sql"])


# --- The operator --------------------------------------------------------------------------


def test_the_operator_holds_every_right_everywhere(college, lycee):
    for establishment in (college, lycee):
        for right in (DEP, ADM, authz.MANAGE_DELEGATIONS):
            assert authz.has_right(authz.OPERATOR, right, establishment)
            authz.authorize(authz.OPERATOR, right, establishment)
        assert authz.is_head(authz.OPERATOR, establishment)
        authz.require_head(authz.OPERATOR, establishment)
    assert authz.is_academy_admin(authz.OPERATOR)
    authz.require_academy_admin(authz.OPERATOR)


def test_the_operator_is_no_login(college):
    assert authz.as_user(authz.OPERATOR) is None
    assert authz.grants(authz.OPERATOR) == {}  # nothing to read: has_right says yes
    assert repr(authz.OPERATOR) == "OPERATOR"


@pytest.mark.parametrize("nobody", [None, "operator", True])
def test_nothing_but_the_operator_principal_is_the_operator(college, nobody):
    """``None``, a name or a flag are no longer ways of saying "the operator"."""
    assert not authz.has_right(nobody, ADM, college)
    with pytest.raises(authz.RightMissing):
        authz.authorize(nobody, ADM, college)
    with pytest.raises(authz.NotAcademyAdmin):
        authz.require_academy_admin(nobody)
    with pytest.raises(authz.NotAcademyAdmin):
        sso_services.register_service("ENT", [CALLBACK], by=nobody)
    assert not Service.objects.exists()


def test_the_operator_delegates_and_is_journaled_as_before(college):
    agent = AgentFactory(username="cpe", quick=True)
    delegation = account_services.delegate(
        agent, college, DEP, end=_in_a_month(), granted_by=authz.OPERATOR
    )
    assert delegation.granted_by is None
    account_services.revoke_delegation(delegation, by=authz.OPERATOR)
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None and delegation.revoked_by is None
    events = AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.DELEGATION_GRANTED, AuditEvent.Action.DELEGATION_REVOKED]
    )
    assert {(e.actor_id, e.actor_label) for e in events} == {(None, "")}
    assert events.count() == 2


def test_the_operator_runs_the_academy_services(college):
    agent = AgentFactory(username="nouveau-chef", quick=True)
    account_services.appoint_head(college, agent, by=authz.OPERATOR)
    assert authz.is_head(agent, college)
    account_services.remove_head(college, agent, by=authz.OPERATOR)
    assert not authz.is_head(agent, college)
    academy.rename(authz.OPERATOR, college, "Collège renommé")
    academy.close(authz.OPERATOR, college)
    academy.reopen(authz.OPERATOR, college)
    registered = sso_services.register_service("ENT", [CALLBACK], by=authz.OPERATOR)
    assert registered.service.registered_by is None
    sso_services.update_service(registered.service, name="ENT 2", by=authz.OPERATOR)
    sso_services.new_client_secret(registered.service, by=authz.OPERATOR)
    sso_services.revoke_service(registered.service, by=authz.OPERATOR)
    assert not Service.objects.exists()


# --- Typed refusals ------------------------------------------------------------------------


def test_refusals_are_typed_and_are_permission_denied(college, lycee, quick_head, quick_delegate):
    with pytest.raises(authz.RightMissing) as missing:
        authz.authorize(quick_delegate, ADM, college)
    with pytest.raises(authz.NotHead) as not_head:
        authz.authorize(quick_delegate, authz.MANAGE_DELEGATIONS, college)
    with pytest.raises(authz.NotHead):
        authz.require_head(quick_head, lycee)
    with pytest.raises(authz.NotAcademyAdmin) as not_admin:
        authz.require_academy_admin(quick_head)
    for refusal in (missing.value, not_head.value, not_admin.value):
        assert isinstance(refusal, authz.Refused)
        assert isinstance(refusal, PermissionDenied)
    authz.require_head(quick_head, college)


def test_a_refusal_reaching_a_view_is_a_403(college, quick_delegate):
    alert = StaffAlert.objects.create(establishment=college, kind="resets", message="x")
    response = signed_in(quick_delegate).post(reverse("portal:dismiss_alert", args=[alert.pk]))
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.dismissed_at is None


def test_delegation_errors_carry_the_users_message(college, quick_head):
    agent = AgentFactory(username="cpe", quick=True)
    today = timezone.localdate()
    cases = [
        (today - DAY, None, account_services.EndInPast, "La date de fin est déjà passée."),
        (
            today + 400 * DAY,
            None,
            account_services.LongerThanAYear,
            "Une délégation dure au plus un an.",
        ),
        (
            today + 2 * DAY,
            today + 5 * DAY,
            account_services.EndBeforeStart,
            "La date de fin précède la date de début.",
        ),
    ]
    for end, start, error, message in cases:
        with pytest.raises(error) as raised:
            account_services.delegate(
                agent, college, DEP, end=end, start=start, granted_by=quick_head
            )
        assert isinstance(raised.value, account_services.DelegationError)
        assert isinstance(raised.value, ValueError)  # the command line prints str()
        assert str(raised.value.message) == message
    with pytest.raises(account_services.DelegationError) as raised:
        account_services.delegate(agent, college, "everything", end=today, granted_by=quick_head)
    assert "unknown right" in str(raised.value)
    assert str(raised.value.message) == "Délégation impossible : vérifiez l'agent et la date."
    assert not Delegation.objects.filter(agent=agent).exists()


# --- Every writer checks its right itself ---------------------------------------------------


def test_delegate_and_revoke_refuse_anyone_but_the_head(
    college, lycee, quick_head, quick_delegate, quick_other_head, academy_admin
):
    agent = AgentFactory(username="cpe", quick=True)
    for grantor in (quick_delegate, quick_other_head, academy_admin, agent):
        with pytest.raises(authz.NotHead):
            account_services.delegate(agent, college, DEP, end=_in_a_month(), granted_by=grantor)
    assert not Delegation.objects.filter(agent=agent).exists()

    delegation = account_services.delegate(
        agent, college, DEP, end=_in_a_month(), granted_by=quick_head
    )
    assert delegation.granted_by == quick_head
    admin = make_delegate(college, ADM, username="adjoint", quick=True)
    for revoker in (quick_delegate, quick_other_head, admin):
        with pytest.raises(authz.NotHead):
            account_services.revoke_delegation(delegation, by=revoker)
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    account_services.revoke_delegation(delegation, by=quick_head)
    delegation.refresh_from_db()
    assert delegation.revoked_by == quick_head


def test_headships_are_for_academy_administrators(college, quick_head, academy_admin):
    agent = AgentFactory(username="nouveau-chef", quick=True)
    with pytest.raises(authz.NotAcademyAdmin):
        account_services.appoint_head(college, agent, by=quick_head)
    with pytest.raises(authz.NotAcademyAdmin):
        account_services.remove_head(college, quick_head, by=quick_head)
    assert not Assignment.objects.filter(agent=agent).exists()
    assert authz.is_head(quick_head, college)
    account_services.appoint_head(college, agent, by=academy_admin)
    account_services.remove_head(college, quick_head, by=academy_admin)
    assert authz.is_head(agent, college) and not authz.is_head(quick_head, college)


def test_second_factor_reset_is_for_academy_administrators(college, quick_head, academy_admin):
    agent = AgentFactory(username="cpe", quick=True)
    TOTPDevice.objects.create(user=agent, name="app", confirmed=True)
    with pytest.raises(authz.NotAcademyAdmin):
        otp.reset_second_factor(agent, by=quick_head)
    assert otp.has_second_factor(agent)
    otp.reset_second_factor(agent, by=academy_admin)
    assert not otp.has_second_factor(agent)


def test_establishment_changes_are_for_academy_administrators(college, quick_head):
    with pytest.raises(authz.NotAcademyAdmin):
        academy.create(quick_head, "0380003X", "Nouveau collège")
    with pytest.raises(authz.NotAcademyAdmin):
        school_services.add_establishment("0380003X", "Nouveau collège", actor=quick_head)
    for change in (
        lambda: academy.rename(quick_head, college, "Autre nom"),
        lambda: academy.close(quick_head, college),
        lambda: academy.reopen(quick_head, college),
    ):
        with pytest.raises(authz.NotAcademyAdmin):
            change()
    college.refresh_from_db()
    assert college.name != "Autre nom" and college.closed_at is None
    assert Establishment.objects.count() == 1
    with pytest.raises(authz.NotAcademyAdmin):
        school_services.set_mef_labels({"10310019110": "3EME"}, by=quick_head)
    assert not Mef.objects.exists()


def test_agents_are_created_by_academy_administrators_only(college, quick_head, academy_admin):
    with pytest.raises(authz.NotAcademyAdmin):
        account_services.add_agent(
            "intrus", password=None, establishment=None, role="academy", actor=quick_head
        )
    assert not User.objects.filter(username="intrus").exists()
    account_services.add_agent(
        "c.fabre", password=None, establishment=college, role="staff", actor=academy_admin
    )
    assert User.objects.filter(username="c.fabre", kind=User.Kind.AGENT).exists()


def test_services_are_registered_by_academy_administrators_only(quick_head, academy_admin):
    with pytest.raises(authz.NotAcademyAdmin):
        sso_services.register_service("ENT", [CALLBACK], by=quick_head)
    registered = sso_services.register_service("ENT", [CALLBACK], by=academy_admin)
    assert registered.service.registered_by == academy_admin
    service = registered.service
    for change in (
        lambda: sso_services.update_service(service, name="X", by=quick_head),
        lambda: sso_services.new_client_secret(service, by=quick_head),
        lambda: sso_services.revoke_service(service, by=quick_head),
    ):
        with pytest.raises(authz.NotAcademyAdmin):
            change()
    service.refresh_from_db()
    assert service.name == "ENT"


def test_alerts_are_dismissed_by_the_head_only(college, quick_head, quick_delegate):
    alert = StaffAlert.objects.create(establishment=college, kind="resets", message="x")
    with pytest.raises(authz.NotHead):
        account_services.dismiss_alert(alert, by=quick_delegate)
    alert.refresh_from_db()
    assert alert.dismissed_at is None
    account_services.dismiss_alert(alert, by=quick_head)
    alert.refresh_from_db()
    assert alert.dismissed_at is not None and alert.dismissed_by == quick_head


# --- Rights read once per request, held on the user object ----------------------------------


def test_grants_are_read_once_within_the_block_and_afresh_after(college, quick_head):
    with CaptureQueriesContext(connection) as queries, authz.rights_read_once(quick_head):
        for right in (DEP, ADM, authz.MANAGE_DELEGATIONS):
            authz.authorize(quick_head, right, college)
        assert authz.grants(quick_head) == {college.pk: set(authz.HEAD_RIGHTS)}
    assert _grant_reads(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        authz.has_right(quick_head, DEP, college)
        authz.has_right(quick_head, DEP, college)
    assert _grant_reads(queries) == 2  # outside a block: every check reads
    assert not hasattr(quick_head, "_educompte_grants_memo")


def test_the_memo_belongs_to_one_user_object(college, quick_delegate):
    same_agent = User.objects.get(pk=quick_delegate.pk)
    with authz.rights_read_once(quick_delegate):
        assert authz.has_right(quick_delegate, DEP, college)
        Delegation.objects.filter(agent=quick_delegate).update(revoked_at=timezone.now())
        assert not authz.has_right(same_agent, DEP, college)  # another object reads afresh


def test_a_write_through_the_services_forgets_the_grants_read(college, quick_head):
    agent = AgentFactory(username="cpe", quick=True)
    with authz.rights_read_once(agent):
        assert not authz.has_right(agent, DEP, college)
        delegation = account_services.delegate(
            agent, college, DEP, end=_in_a_month(), granted_by=quick_head
        )
        assert authz.has_right(agent, DEP, college)
        account_services.revoke_delegation(delegation, by=quick_head)
        assert not authz.has_right(agent, DEP, college)


def test_disabled_or_nested_blocks_change_nothing(college, quick_head):
    with authz.rights_read_once(quick_head, enabled=False):
        assert not hasattr(quick_head, "_educompte_grants_memo")
    with authz.rights_read_once(quick_head):
        authz.has_right(quick_head, DEP, college)
        with CaptureQueriesContext(connection) as queries:
            with authz.rights_read_once(quick_head):
                authz.has_right(quick_head, ADM, college)
            authz.has_right(quick_head, DEP, college)
        assert _grant_reads(queries) == 0
    assert not hasattr(quick_head, "_educompte_grants_memo")


def test_a_console_page_reads_the_rights_once_and_each_request_afresh(college, quick_delegate):
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert _grant_reads(queries) == 1
    Delegation.objects.filter(agent=quick_delegate).update(revoked_at=timezone.now())
    assert client.get(url).status_code == 403


def test_the_commands_act_as_the_operator(college):
    """The command line's writes go through the same checks, as ``authz.OPERATOR``: linked
    to no login in the journal, as before."""
    out = io.StringIO()
    call_command("add_establishment", "0380003X", "Nouveau collège", stdout=out)
    call_command("add_agent", "c.fabre", uai=college.uai, role="staff", stdout=out)
    call_command(
        "delegate", "c.fabre", uai=college.uai, right=DEP, until=f"{_in_a_month()}", stdout=out
    )
    call_command("add_service", "ENT", redirect_uris=[CALLBACK], stdout=out)
    assert Delegation.objects.get(agent__username="c.fabre").granted_by is None
    assert Service.objects.get().registered_by is None
    events = AuditEvent.objects.filter(
        action__in=[
            AuditEvent.Action.ESTABLISHMENT_CREATED,
            AuditEvent.Action.AGENT_CREATED,
            AuditEvent.Action.DELEGATION_GRANTED,
            AuditEvent.Action.SERVICE_REGISTERED,
        ]
    )
    assert events.count() == 4
    assert {(e.actor_id, e.actor_label) for e in events} == {(None, "")}
