"""Dépannage never reaches the pupils of another establishment, whatever the URL or ids."""

from __future__ import annotations

import pytest
from django.urls import reverse

from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import AccountState, StudentAccount
from tests.factories import make_delegate, make_pupil
from tests.helpers import signed_in
from tests.html_helpers import account_rows

pytestmark = pytest.mark.django_db


# --- IDOR: the college's delegate and the lycée's pupils --------------------------------


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
