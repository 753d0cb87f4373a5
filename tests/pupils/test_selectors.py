"""educompte.pupils.selectors: the search of the consoles, its filters, sorting, filter
lists (one UNION query) and the lock that comes with each row."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter
from educompte.pupils import selectors, services
from educompte.pupils.models import AccountState
from tests.factories import AgentFactory, DivisionFactory, MefFactory
from tests.helpers import lock_account

pytestmark = pytest.mark.django_db


# --- Search, filters, sorting, pagination --------------------------------------------------


def _names(agent, college, **filters) -> list[str]:
    found = selectors.search_pupils(agent, college, selectors.PupilFilters(**filters))
    return [s.first_name for s in found]


@pytest.mark.parametrize(
    "query",
    ["lefevre", "LEFÈVRE", "n'guyen", "nguyen", "guyen-lef", "N’Guyen", "zoé", "zoe nguyen"],
)
def test_search_is_partial_and_ignores_case_accents_apostrophes(
    college, quick_delegate, classes, query
):
    assert _names(quick_delegate, college, query=query) == ["Zoé"]


def test_search_misses_other_names(college, quick_delegate, classes):
    assert _names(quick_delegate, college, query="lefebvre") == ["Inès"]
    assert _names(quick_delegate, college, query="dupont") == []


HERE = "203.0.113.9"


# --- Filter lists and the rows of the search ------------------------------------------------


def test_filter_choices_list_what_the_establishments_pupils_are_in(
    college, lycee, quick_delegate, quick_other_head, spread
):
    mefs, divisions = selectors.filter_choices(quick_delegate, college)
    assert [(m.pk, m.label) for m in mefs] == [
        (spread["mefs"]["3"].pk, "3EME"),
        (spread["mefs"]["4"].pk, "4EME"),
    ]
    d = spread["divisions"]
    assert [(x.pk, x.code) for x in divisions] == [
        (d["10A"].pk, "10A"),
        (d["3A"].pk, "3A"),
        (d["3B"].pk, "3B"),
    ]
    mefs, divisions = selectors.filter_choices(quick_other_head, lycee)
    assert [(m.pk, m.label) for m in mefs] == [(spread["mefs"]["2"].pk, "2NDE")]
    assert [(x.pk, x.code) for x in divisions] == [(d["2A"].pk, "2A")]
    # The lists still need the right on the establishment.
    with pytest.raises(PermissionDenied):
        selectors.filter_choices(quick_other_head, college)


def test_filter_choices_of_an_establishment_without_pupils(college, quick_delegate):
    MefFactory(label="3EME")
    DivisionFactory(establishment=college, code="3A")
    assert selectors.filter_choices(quick_delegate, college) == ([], [])


def test_filter_choices_read_in_one_query_besides_the_rights(college, quick_delegate, spread):
    with CaptureQueriesContext(connection) as queries:
        selectors.filter_choices(quick_delegate, college)
    assert len(queries) == 2, [q["sql"] for q in queries]


def _first_names(agent, establishment, **filters) -> list[str]:
    found = selectors.search_pupils(agent, establishment, selectors.PupilFilters(**filters))
    return [s.first_name for s in found]


def test_search_filters_and_sorts(college, quick_delegate, spread):
    m, d = spread["mefs"], spread["divisions"]
    agent = quick_delegate
    assert _first_names(agent, college) == ["Noa", "Inès", "Léo", "Zoé", "Sam"]
    assert _first_names(agent, college, sort="-nom") == ["Sam", "Zoé", "Léo", "Inès", "Noa"]
    assert _first_names(agent, college, query="martin") == ["Léo"]  # not the lycée's Lou
    assert _first_names(agent, college, query="LEF") == ["Inès", "Zoé"]
    assert _first_names(agent, college, mef=m["3"].pk) == ["Inès", "Léo"]
    assert _first_names(agent, college, mef=m["2"].pk) == []
    assert _first_names(agent, college, division=d["3A"].pk) == ["Inès", "Léo"]
    assert _first_names(agent, college, division=d["2A"].pk) == []
    assert _first_names(agent, college, state=AccountState.ACTIVE) == ["Inès"]
    assert _first_names(agent, college, state=AccountState.DEACTIVATED) == ["Noa"]
    assert _first_names(agent, college, state="bogus") == ["Noa", "Inès", "Léo", "Zoé", "Sam"]
    assert _first_names(agent, college, query="e", division=d["3A"].pk, state="active") == ["Inès"]
    classes = _first_names(agent, college, sort="classe")
    # By class code (nulls where the database puts them), then by name within a class.
    assert [n for n in classes if n != "Sam"] == ["Noa", "Inès", "Léo", "Zoé"]
    reverse_classes = _first_names(agent, college, sort="-classe")
    assert [n for n in reverse_classes if n != "Sam"] == ["Zoé", "Inès", "Léo", "Noa"]
    with pytest.raises(PermissionDenied):
        _first_names(AgentFactory(username="nobody", quick=True), college)


def test_search_rows_carry_the_lock_of_their_account(college, quick_delegate, spread):
    pupils = spread["pupils"]
    now = timezone.now()
    until = now + datetime.timedelta(hours=2)
    zoe_pair = f"pair:u{pupils['zoe'].user_id}:{HERE}"
    lock_account(pupils["zoe"].user_id, until - datetime.timedelta(hours=1), key=zoe_pair)
    lock_account(pupils["zoe"].user_id, until)
    lock_account(pupils["leo"].user_id, now - datetime.timedelta(seconds=5))  # over
    lock_account(pupils["lou"].user_id, until)  # another establishment's pupil
    ThrottleCounter.objects.create(
        key=f"address:{HERE}", kind="address", ip=HERE, window_start=now, locked_until=until
    )
    rows = selectors.search_pupils(quick_delegate, college, selectors.PupilFilters())
    blocked = {s.account.pk: s.blocked_until for s in rows}
    assert blocked == {
        pupils["zoe"].pk: until,
        pupils["leo"].pk: None,
        pupils["ines"].pk: None,
        pupils["noa"].pk: None,
        pupils["sam"].pk: None,
    }
    # The same answer as the function the consoles used before.
    assert throttling.blocked_until([a.user_id for a in pupils.values()]) == {
        pupils["zoe"].user_id: until,
        pupils["lou"].user_id: until,
    }
    # And through filters and the count of a page.
    filtered = selectors.search_pupils(
        quick_delegate, college, selectors.PupilFilters(query="lefevre", state="informed")
    )
    assert [(s.first_name, s.blocked_until) for s in filtered] == [("Zoé", until)]
    assert filtered.count() == 1


def test_search_rows_hold_every_listed_value_in_one_query(college, quick_delegate, spread):
    qs = selectors.search_pupils(quick_delegate, college, selectors.PupilFilters())
    with CaptureQueriesContext(connection) as queries:
        values = [
            (
                s.full_name,
                s.last_name,
                s.division_code,
                s.account.pk,
                s.identifier,
                s.account.state,
                s.account.email,
                s.account.email_confirmed,
                s.account.provisional_expires_at,
                s.account.provisional_issued_at,
                s.account.activated_at,
                services.provisional_password(s.account),
                services.provisional_expired(s.account),
                s.blocked_until,
            )
            for s in qs
        ]
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert len(values) == 5
    zoe = spread["pupils"]["zoe"]
    row = next(v for v in values if v[3] == zoe.pk)
    assert row[2] == "3B" and row[4] == zoe.identifier and row[5] == AccountState.INFORMED
