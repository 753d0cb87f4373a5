"""Who may do what on which establishment: ``accounts.authz`` and the console built on it."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right
from educompte.audit.models import AuditEvent
from educompte.pupils.models import StudentAccount
from educompte.schools.models import Establishment
from tests.factories import AgentFactory, EstablishmentFactory, make_delegate
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db
DEP, ADM = Right.DEPANNAGE, Right.ADMINISTRATION
TODAY = timezone.localdate
DAY = datetime.timedelta(days=1)


def _pupils_page(user, establishment) -> int:
    return signed_in(user).get(reverse("depannage:pupils", args=[establishment.uai])).status_code


# --- Heads ---------------------------------------------------------------------------


def test_head_holds_depannage_and_administration_on_own_establishment_only(
    college, lycee, quick_head
):
    held = authz.grants(quick_head)
    assert set(held) == {college.pk}
    assert {DEP, ADM} <= held[college.pk]
    for right in (DEP, ADM):
        assert authz.has_right(quick_head, right, college)
        assert not authz.has_right(quick_head, right, lycee)
        with pytest.raises(PermissionDenied):
            authz.authorize(quick_head, right, lycee)
    assert authz.is_head(quick_head, college)
    assert not authz.is_head(quick_head, lycee)
    assert authz.establishments_with_right(quick_head, DEP) == [college]
    assert _pupils_page(quick_head, college) == 200
    assert _pupils_page(quick_head, lycee) == 403


def test_staff_assignment_alone_gives_no_right(college):
    agent = AgentFactory(username="secretariat", quick=True)
    Assignment.objects.create(agent=agent, establishment=college, role=Assignment.Role.STAFF)
    assert authz.grants(agent) == {}
    assert _pupils_page(agent, college) == 403


@pytest.mark.parametrize(
    ("start", "end", "holds"),
    [
        (-1, None, True),  # open-ended, started yesterday
        (0, 0, True),  # starts and ends today
        (1, None, False),  # starts tomorrow
        (-30, -1, False),  # ended yesterday
    ],
)
def test_headship_counts_between_its_dates(college, start, end, holds):
    agent = AgentFactory(username="principal-date", quick=True)
    Assignment.objects.create(
        agent=agent,
        establishment=college,
        role=Assignment.Role.HEAD,
        start=TODAY() + start * DAY,
        end=None if end is None else TODAY() + end * DAY,
    )
    assert authz.has_right(agent, DEP, college) is holds
    assert authz.is_head(agent, college) is holds


# --- Delegations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "holds"),
    [
        (0, 0, True),  # from start to end inclusive: a one-day delegation works today
        (-10, 0, True),  # last day
        (0, 10, True),  # first day
        (-10, -1, False),  # ended yesterday
        (1, 10, False),  # not started yet
    ],
)
def test_delegation_holds_from_start_to_end_inclusive(college, start, end, holds):
    agent = make_delegate(
        college,
        start=TODAY() + start * DAY,
        end=TODAY() + end * DAY,
        username="delegue",
        quick=True,
    )
    assert authz.has_right(agent, DEP, college) is holds
    assert _pupils_page(agent, college) == (200 if holds else 403)


def test_delegation_boundaries_on_given_days(college):
    agent = AgentFactory(username="delegue", quick=True)
    Delegation.objects.create(
        agent=agent,
        establishment=college,
        right=DEP,
        start=datetime.date(2026, 1, 10),
        end=datetime.date(2026, 1, 20),
    )
    assert authz.grants(agent, today=datetime.date(2026, 1, 9)) == {}
    assert authz.grants(agent, today=datetime.date(2026, 1, 10)) == {college.pk: {DEP}}
    assert authz.grants(agent, today=datetime.date(2026, 1, 20)) == {college.pk: {DEP}}
    assert authz.grants(agent, today=datetime.date(2026, 1, 21)) == {}


def test_ended_delegation_gives_nothing_on_the_portal(college):
    agent = make_delegate(college, start=TODAY() - 10 * DAY, end=TODAY() - DAY, quick=True)
    page = signed_in(agent).get(reverse("portal:index"))
    assert page.status_code == 200
    assert reverse("depannage:pupils", args=[college.uai]) not in page.content.decode()


def test_revoked_delegation_stops_at_once(college, zoe, quick_delegate):
    account, _pw = zoe
    client = signed_in(quick_delegate)
    pupils = reverse("depannage:pupils", args=[college.uai])
    assert client.get(pupils).status_code == 200
    Delegation.objects.filter(agent=quick_delegate).update(revoked_at=timezone.now())
    # Same session, next request: refused, and a reset does nothing.
    assert client.get(pupils).status_code == 403
    before = bytes(StudentAccount.objects.get(pk=account.pk).provisional_password_encrypted)
    response = client.post(reverse("depannage:reset", args=[college.uai, account.pk]))
    assert response.status_code == 403
    assert bytes(StudentAccount.objects.get(pk=account.pk).provisional_password_encrypted) == (
        before
    )
    assert not authz.has_right(quick_delegate, DEP, college)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).exists()


def test_administration_implies_depannage_but_not_the_reverse(college):
    admin = make_delegate(college, ADM, username="adjoint", quick=True)
    helper = make_delegate(college, DEP, username="vie-scolaire", quick=True)
    assert authz.has_right(admin, DEP, college)
    assert authz.has_right(admin, ADM, college)
    assert authz.has_right(helper, DEP, college)
    assert not authz.has_right(helper, ADM, college)
    assert _pupils_page(admin, college) == 200


def test_delegation_is_for_its_establishment_only(college, lycee, quick_delegate):
    assert authz.grants(quick_delegate) == {college.pk: {DEP}}
    assert not authz.has_right(quick_delegate, DEP, lycee)
    assert _pupils_page(quick_delegate, lycee) == 403


def test_closed_establishment_gives_no_right(college, quick_head, quick_delegate):
    college.closed_at = timezone.now()
    college.save(update_fields=["closed_at"])
    for agent in (quick_head, quick_delegate):
        assert authz.grants(agent) == {}
        assert not authz.has_right(agent, DEP, college)
        assert _pupils_page(agent, college) == 403
    assert not authz.is_head(quick_head, college)


def test_pupils_never_hold_rights_even_with_rows_saying_so(college, zoe):
    account, _pw = zoe
    pupil = account.user
    Assignment.objects.create(agent=pupil, establishment=college, role=Assignment.Role.HEAD)
    Delegation.objects.create(agent=pupil, establishment=college, right=ADM, end=TODAY() + 10 * DAY)
    assert authz.grants(pupil) == {}
    assert not authz.has_right(pupil, DEP, college)
    assert not authz.is_head(pupil, college)
    assert _pupils_page(pupil, college) == 403


def test_deactivated_agent_holds_nothing(college, quick_head):
    quick_head.is_active = False
    quick_head.save(update_fields=["is_active"])
    assert authz.grants(quick_head) == {}


def test_anonymous_holds_nothing(college):
    from django.contrib.auth.models import AnonymousUser

    assert authz.grants(AnonymousUser()) == {}
    assert not authz.has_right(AnonymousUser(), DEP, college)


# --- Rights read in one query ---------------------------------------------------------------


def _assign(agent, establishment, **kwargs) -> None:
    Assignment.objects.create(
        agent=agent, establishment=establishment, role=Assignment.Role.HEAD, **kwargs
    )


def _delegate(agent, establishment, right, **kwargs) -> None:
    today = timezone.localdate()
    kwargs.setdefault("start", today)
    kwargs.setdefault("end", today + datetime.timedelta(days=30))
    Delegation.objects.create(agent=agent, establishment=establishment, right=right, **kwargs)


def test_grants_of_heads_and_delegations(college, lycee, quick_head, quick_delegate):
    third = EstablishmentFactory(name="Collège Trois")
    assert authz.grants(quick_head) == {college.pk: set(authz.HEAD_RIGHTS)}
    assert authz.grants(quick_delegate) == {college.pk: {Right.DEPANNAGE}}

    # Administration implies dépannage; several delegations and a headship add up.
    _delegate(quick_delegate, lycee, Right.ADMINISTRATION)
    _delegate(quick_delegate, third, Right.DEPANNAGE)
    _assign(quick_delegate, third)
    assert authz.grants(quick_delegate) == {
        college.pk: {Right.DEPANNAGE},
        lycee.pk: {Right.ADMINISTRATION, Right.DEPANNAGE},
        third.pk: set(authz.HEAD_RIGHTS),
    }
    # A head who also holds a delegation keeps every right of a head.
    _delegate(quick_head, college, Right.DEPANNAGE)
    assert authz.grants(quick_head) == {college.pk: set(authz.HEAD_RIGHTS)}

    assert authz.has_right(quick_head, authz.MANAGE_DELEGATIONS, college)
    assert authz.has_right(quick_head, Right.ADMINISTRATION, college)
    assert not authz.has_right(quick_head, Right.DEPANNAGE, lycee)
    assert authz.has_right(quick_delegate, Right.DEPANNAGE, lycee)
    assert authz.has_right(quick_delegate, Right.ADMINISTRATION, lycee)
    assert not authz.has_right(quick_delegate, Right.ADMINISTRATION, college)
    assert not authz.has_right(quick_delegate, authz.MANAGE_DELEGATIONS, lycee)
    assert authz.is_head(quick_delegate, third)


def test_grants_leave_out_what_is_over_or_not_yet_or_closed(college, lycee):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    closed = EstablishmentFactory(name="Collège fermé")
    Establishment.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    agent = AgentFactory(username="agent-historique", quick=True)

    _assign(agent, college, start=today - 30 * day, end=today - day)  # ended
    _assign(agent, lycee, start=today + day)  # not yet
    _assign(agent, closed)  # closed establishment
    Assignment.objects.create(agent=agent, establishment=college, role=Assignment.Role.STAFF)
    _delegate(agent, college, Right.ADMINISTRATION, start=today - 30 * day, end=today - day)
    _delegate(agent, college, Right.DEPANNAGE, revoked_at=timezone.now())
    _delegate(agent, lycee, Right.ADMINISTRATION, start=today + day)
    _delegate(agent, closed, Right.DEPANNAGE)
    assert authz.grants(agent) == {}
    for establishment in (college, lycee, closed):
        for right in (Right.DEPANNAGE, Right.ADMINISTRATION, authz.MANAGE_DELEGATIONS):
            assert not authz.has_right(agent, right, establishment)

    # The last day counts; a headship without an end lasts.
    _delegate(agent, lycee, Right.DEPANNAGE, start=today - day, end=today)
    _assign(agent, EstablishmentFactory(), start=today - day)
    grants = authz.grants(agent)
    assert grants[lycee.pk] == {Right.DEPANNAGE}
    assert len(grants) == 2
    # Another day: what had ended, or not begun yet, is read for that day.
    assert authz.grants(agent, today=today - 2 * day)[college.pk] == set(authz.HEAD_RIGHTS) | {
        Right.ADMINISTRATION
    }
    assert authz.grants(agent, today=today + day)[lycee.pk] == set(authz.HEAD_RIGHTS)


def test_grants_of_non_agents_and_in_one_query(college, quick_head, zoe):
    account, _password = zoe
    assert authz.grants(account.user) == {}
    inactive = AgentFactory(username="parti", is_active=False, quick=True)
    _assign(inactive, college)
    assert authz.grants(inactive) == {}
    with CaptureQueriesContext(connection) as queries:
        authz.grants(quick_head)
    assert len(queries) == 1
