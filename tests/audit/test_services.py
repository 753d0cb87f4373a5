"""Writing the audit trail: ``record`` for one event, ``record_many`` for many, both
refusing anything that looks like a password."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.audit.services import record, record_many
from tests.factories import make_head, make_pupil

pytestmark = pytest.mark.django_db

FIELDS = [
    "action",
    "actor_id",
    "actor_label",
    "establishment_id",
    "account_id",
    "subject_label",
    "ip_address",
    "details",
]


def as_row(event: AuditEvent) -> tuple:
    return tuple(getattr(event, field) for field in FIELDS)


@pytest.fixture
def pupils(college):
    return [make_pupil(college, first_name=name)[0] for name in ("Ana", "Bea", "Cid")]


def test_record_many_writes_what_record_writes_in_one_insert(college, pupils):
    head = make_head(college, username="chef", quick=True)
    events = [(account, {"n": i}) for i, account in enumerate(pupils)]
    with CaptureQueriesContext(connection) as queries:
        written = record_many(
            AuditEvent.Action.FORCED_CHANGE,
            events,
            actor=head,
            establishment=college,
            ip="192.0.2.7",
        )
    assert len([q for q in queries if q["sql"].startswith("INSERT")]) == 1
    assert len(queries) == 1
    one_by_one = [
        record(
            AuditEvent.Action.FORCED_CHANGE,
            actor=head,
            establishment=college,
            account=account,
            ip="192.0.2.7",
            **details,
        )
        for account, details in events
    ]
    stored = AuditEvent.objects.filter(pk__in=[e.pk for e in written if e.pk])
    expected = [as_row(e) for e in one_by_one]
    assert [as_row(e) for e in written] == expected
    if connection.features.can_return_rows_from_bulk_insert:
        assert sorted(as_row(e) for e in stored) == sorted(expected)
    assert written[0].subject_label == pupils[0].identifier
    assert written[0].actor_label == "chef" and written[0].actor_id == head.pk


def test_record_many_of_nothing_writes_nothing(college):
    with CaptureQueriesContext(connection) as queries:
        assert record_many(AuditEvent.Action.LETTER_ISSUED, [], establishment=college) == []
    assert len(queries) == 0


@pytest.mark.parametrize("key", ["password", "Mot_de_passe", "provisional_password", "SECRET"])
def test_record_many_refuses_a_password_in_any_event_and_writes_none(college, pupils, key):
    events = [(pupils[0], {"format": "page"}), (pupils[1], {key: "x"})]
    with pytest.raises(ValueError):
        record_many(AuditEvent.Action.LETTER_ISSUED, events, establishment=college)
    with pytest.raises(ValueError):
        record(AuditEvent.Action.LETTER_ISSUED, establishment=college, **{key: "x"})
    assert not AuditEvent.objects.exists()


def test_events_without_an_account_and_by_the_operator(college):
    [event] = record_many(
        AuditEvent.Action.REGISTRY_IMPORT, [(None, {"created": 3})], actor=authz.OPERATOR
    )
    single = record(AuditEvent.Action.REGISTRY_IMPORT, actor=authz.OPERATOR, created=3)
    assert as_row(event) == as_row(single)
    assert event.actor_id is None and event.subject_label == ""
    assert event.actor_label == authz.OPERATOR.username
