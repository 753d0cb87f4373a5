"""Who may do what on which establishment: ``accounts.authz`` and the console built on it."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, Right
from educompte.audit.models import AuditEvent
from educompte.pupils import selectors, services
from educompte.pupils.models import AccountState, StudentAccount
from tests.factories import AgentFactory, make_delegate, make_pupil
from tests.helpers import signed_in
from tests.html_helpers import account_rows

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


# --- IDOR: the college's delegate and the lycée's pupils --------------------------------


@pytest.fixture
def lea(lycee):
    """A pupil of the lycée, whom the college's delegate must never reach."""
    return make_pupil(lycee, first_name="Léa", last_name="Vasseur")


def _snapshot(account: StudentAccount) -> tuple:
    row = StudentAccount.objects.select_related("user").get(pk=account.pk)
    return (
        row.state,
        bytes(row.provisional_password_encrypted or b""),
        row.provisional_issued_at,
        row.user.password,
    )


def _shows(body: str, account: StudentAccount, password: str) -> bool:
    return (
        account.identifier in body
        or password in body
        or "Vasseur" in body
        or f'name="comptes" value="{account.pk}"' in body
        or f'data-account="{account.pk}"' in body
    )


@pytest.mark.parametrize("uai", ["0380001V", "0380002W"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_delegate_cannot_reach_a_lycee_pupil_through_any_url(quick_delegate, lea, uai, method):
    account, password = lea
    before = _snapshot(account)
    client = signed_in(quick_delegate)
    response = getattr(client, method)(reverse("depannage:reset", args=[uai, account.pk]))
    # Through the college's URL the account does not exist; through the lycée's, no right.
    assert response.status_code == (404 if uai == "0380001V" else 403)
    assert not _shows(response.content.decode(), account, password)
    assert _snapshot(account) == before
    assert not AuditEvent.objects.filter(account=account).exists()


def test_delegate_cannot_find_a_lycee_pupil_in_the_college_list(college, quick_delegate, lea):
    account, password = lea
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    everyone = client.get(url).content.decode()
    assert not _shows(everyone, account, password)
    for query in ("Vasseur", account.identifier):
        page = client.get(url, {"q": query}).content.decode()
        # The query itself is echoed in the search field: look at the results only.
        assert account_rows(page) == {}
        assert password not in page
        assert "Aucun élève ne correspond" in page


@pytest.mark.parametrize("confirm", ["", "1"])
def test_bulk_reset_with_foreign_ids_through_the_college_url(college, quick_delegate, lea, confirm):
    account, password = lea
    before = _snapshot(account)
    client = signed_in(quick_delegate)
    url = reverse("depannage:bulk_reset", args=[college.uai])
    response = client.post(url, {"comptes": [account.pk], "confirm": confirm}, follow=True)
    assert response.status_code in (200, 404)
    assert not _shows(response.content.decode(), account, password)
    assert _snapshot(account) == before
    assert not AuditEvent.objects.filter(account=account).exists()


def test_bulk_reset_through_the_lycee_url_is_refused(lycee, quick_delegate, lea):
    account, password = lea
    before = _snapshot(account)
    response = signed_in(quick_delegate).post(
        reverse("depannage:bulk_reset", args=[lycee.uai]),
        {"comptes": [account.pk], "confirm": "1"},
    )
    assert response.status_code == 403
    assert not _shows(response.content.decode(), account, password)
    assert _snapshot(account) == before


def test_bulk_reset_of_a_mix_resets_only_own_pupils(college, quick_delegate, zoe, lea):
    own, _old = zoe
    other_own, _old2 = make_pupil(college, first_name="Hugo", last_name="Berthier")
    foreign, foreign_password = lea
    foreign_before = _snapshot(foreign)
    own_before = {a.pk: _snapshot(a) for a in (own, other_own)}
    client = signed_in(quick_delegate)
    response = client.post(
        reverse("depannage:bulk_reset", args=[college.uai]),
        {"comptes": [own.pk, foreign.pk, other_own.pk], "confirm": "1"},
        follow=True,
    )
    assert response.status_code == 200
    body = response.content.decode()
    for account in (own, other_own):
        fresh = StudentAccount.objects.get(pk=account.pk)
        assert _snapshot(fresh) != own_before[account.pk]
        assert fresh.state == AccountState.INFORMED
        assert services.provisional_password(fresh) in body  # the sheet to hand out
    assert _snapshot(foreign) == foreign_before
    assert not _shows(body, foreign, foreign_password)
    resets = AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET)
    assert set(resets.values_list("account_id", flat=True)) == {own.pk, other_own.pk}


def test_services_refuse_foreign_pupils(college, lycee, quick_delegate, lea):
    account, _pw = lea
    with pytest.raises(PermissionDenied):
        services.reset_password(quick_delegate, account)
    with pytest.raises(PermissionDenied):
        services.reset_passwords(quick_delegate, lycee, [account.pk])
    assert services.reset_passwords(quick_delegate, college, [account.pk]).reset == []
    with pytest.raises(Http404):
        selectors.get_account(quick_delegate, college, account.pk)
    assert selectors.get_accounts(quick_delegate, college, [account.pk]) == []
    with pytest.raises(PermissionDenied):
        selectors.search_pupils(quick_delegate, lycee, selectors.PupilFilters())
    assert not selectors.search_pupils(
        quick_delegate, college, selectors.PupilFilters(query="Vasseur")
    ).exists()


def test_bulk_result_token_is_bound_to_the_session_that_made_it(college, quick_head, zoe):
    account, _pw = zoe
    head = signed_in(quick_head)
    done = head.post(
        reverse("depannage:bulk_reset", args=[college.uai]),
        {"comptes": [account.pk], "confirm": "1"},
    )
    assert done.status_code == 302
    result_url = done["Location"]
    password = services.provisional_password(StudentAccount.objects.get(pk=account.pk))
    assert password in head.get(result_url).content.decode()
    other = signed_in(make_delegate(college, username="autre-delegue", quick=True))
    response = other.get(result_url)
    assert response.status_code == 404
    assert password not in response.content.decode()


def test_other_head_cannot_reach_a_college_pupil(college, lycee, quick_other_head, zoe):
    account, password = zoe
    client = signed_in(quick_other_head)
    via_college = client.get(reverse("depannage:reset", args=[college.uai, account.pk]))
    via_lycee = client.get(reverse("depannage:reset", args=[lycee.uai, account.pk]))
    assert via_college.status_code == 403
    assert via_lycee.status_code == 404
    for response in (via_college, via_lycee):
        assert account.identifier not in response.content.decode()
        assert password not in response.content.decode()


def test_delegate_cannot_unlock_a_lycee_pupil(college, quick_delegate, lea):
    from educompte.accounts import throttling

    account, _pw = lea
    for _ in range(throttling.FREE_FAILURES):
        services.sign_in_pupil(account.identifier, "MAUVAISMDP", ip="198.51.100.7")
    blocked = throttling.blocked_until([account.user_id])
    assert blocked
    response = signed_in(quick_delegate).post(
        reverse("depannage:unlock", args=[college.uai, account.pk])
    )
    assert response.status_code == 404
    assert throttling.blocked_until([account.user_id]) == blocked
    assert not AuditEvent.objects.filter(account=account).exists()


def test_delegate_cannot_handle_a_lycee_request(college, lycee, quick_delegate, lea):
    from educompte.pupils.models import SupportRequest

    account, password = lea
    support = SupportRequest.objects.create(account=account, establishment=lycee)
    before = _snapshot(account)
    client = signed_in(quick_delegate)
    via_college = client.post(reverse("depannage:handle_request", args=[college.uai, support.pk]))
    via_lycee = client.post(reverse("depannage:handle_request", args=[lycee.uai, support.pk]))
    assert (via_college.status_code, via_lycee.status_code) == (404, 403)
    listing = client.get(reverse("depannage:requests", args=[college.uai])).content.decode()
    assert not _shows(listing, account, password)
    assert _snapshot(account) == before
    assert SupportRequest.objects.get(pk=support.pk).status == SupportRequest.Status.OPEN


def _verified(user):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = signed_in(user)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.mark.parametrize("action", ["deactivate", "force", "unlock"])
def test_head_cannot_act_on_a_lycee_pupil_through_administration(college, quick_head, lea, action):
    account, password = lea
    before = _snapshot(account)
    client = _verified(quick_head)
    response = client.post(
        reverse("administration:account_action", args=[college.uai]),
        {"action": action, "comptes": [account.pk], "confirm": "1", "reason": "essai"},
        follow=True,
    )
    assert response.status_code in (200, 404)
    assert not _shows(response.content.decode(), account, password)
    assert _snapshot(account) == before
    assert not AuditEvent.objects.filter(account=account).exists()
