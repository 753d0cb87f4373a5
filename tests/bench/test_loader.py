"""bench/loader.py: the loader of the benchmark database creates its pupils through the
account lifecycle."""

from __future__ import annotations

import pytest

from bench import loader


@pytest.mark.django_db
def test_the_loader_creates_pupils_through_the_lifecycle():
    """The loader is no account writer of its own: its pupils are what the lifecycle's bulk
    creation makes (the import's), in the states asked for."""
    from django.contrib.auth.hashers import make_password

    from educompte.pupils.models import AccountState, StudentAccount
    from educompte.pupils.services import provisional_password

    hashes = [make_password("Bench-loader-2026")]
    states = {AccountState.ACTIVE: 1, AccountState.NOT_INFORMED: 1, AccountState.DEACTIVATED: 1}
    plan, result = loader.load_schools(
        9500000, 2, 12, "Bench loader", states=states, active_hashes=hashes, chunk=7, keep=bool
    )
    accounts = list(
        StudentAccount.objects.filter(
            student__establishment__in=[s.establishment for s in plan]
        ).select_related("user", "student")
    )
    assert result.pupils == len(accounts) == len(result.kept) == 24
    assert {k.account_id for k in result.kept} == {a.pk for a in accounts}
    assert {a.state for a in accounts} == set(states)
    for account in accounts:
        if account.state == AccountState.ACTIVE:
            assert account.user.password in hashes and account.activated_at
        elif account.state == AccountState.NOT_INFORMED:
            assert len(provisional_password(account)) == 10
        else:
            assert account.student.left_on and not account.provisional_password_encrypted
    assert len({a.student.ine for a in accounts}) == 24
    loader.purge_establishments([s.establishment.uai for s in plan])
    assert not StudentAccount.objects.filter(pk__in=[a.pk for a in accounts]).exists()
