"""« Demander à mon établissement »: found without the identifier (name, first name, date
of birth, the class for homonyms), and closed by the new password that answers it."""

from __future__ import annotations

import datetime

import pytest

from educompte.audit.models import AuditEvent
from educompte.pupils import recovery, services
from educompte.pupils.models import AccountState, SupportRequest
from tests.factories import DivisionFactory, make_pupil

pytestmark = pytest.mark.django_db

BORN = datetime.date(2013, 3, 14)


def ask(**kwargs) -> None:
    fields = {"identifier": "", "class_given": "", "message": ""} | kwargs
    recovery.create_support_request(
        fields.pop("identifier"), fields.pop("class_given"), fields.pop("message"), **fields
    )


def asked() -> list[int]:
    return list(
        SupportRequest.objects.filter(status=SupportRequest.Status.OPEN).values_list(
            "account_id", flat=True
        )
    )


@pytest.fixture
def zoe(college):
    account, _ = make_pupil(
        college,
        first_name="Zoé",
        last_name="N'Guyen",
        birth_date=BORN,
        division=DivisionFactory(establishment=college, code="6A"),
    )
    return account


def test_found_by_name_and_birth_date_without_the_identifier(zoe):
    ask(last_name="nguyen", first_name="ZOE", birth_date=BORN, class_given="6A")
    assert asked() == [zoe.pk]
    request = SupportRequest.objects.get()
    assert request.establishment == zoe.student.establishment


@pytest.mark.parametrize(
    "given",
    [
        {"last_name": "Nguyen", "first_name": "Zoé", "birth_date": BORN.replace(day=15)},
        {"last_name": "Nguyen", "first_name": "Zoe", "birth_date": None},
        {"last_name": "", "first_name": "Zoé", "birth_date": BORN},
        {"last_name": "Nguye", "first_name": "Zoé", "birth_date": BORN},
    ],
    ids=["other-birth-date", "no-birth-date", "no-name", "part-of-the-name"],
)
def test_nothing_filed_when_the_details_do_not_match(zoe, given):
    ask(**given)
    assert asked() == []


def test_homonyms_born_the_same_day_are_told_apart_by_the_class(zoe, lycee):
    twin, _ = make_pupil(
        lycee,
        first_name="Zoé",
        last_name="Nguyen",
        birth_date=BORN,
        division=DivisionFactory(establishment=lycee, code="2NDE1"),
    )
    ask(last_name="Nguyen", first_name="Zoé", birth_date=BORN, class_given="")
    assert asked() == []  # two pupils: nobody is guessed
    ask(last_name="Nguyen", first_name="Zoé", birth_date=BORN, class_given="2nde 1")
    assert asked() == [twin.pk]


def test_a_deactivated_account_files_nothing(zoe, quick_head, college):
    services.deactivate(quick_head, college, [zoe.pk], reason="Départ")
    ask(last_name="Nguyen", first_name="Zoé", birth_date=BORN)
    assert asked() == []


def test_resetting_the_password_closes_the_request(zoe, quick_delegate, college):
    ask(identifier=zoe.identifier, class_given="6A")
    assert recovery.open_request_count(college.pk) == 1
    services.reset_password(quick_delegate, zoe)
    assert recovery.open_request_count(college.pk) == 0
    request = SupportRequest.objects.get()
    assert (request.status, request.handled_by) == (SupportRequest.Status.HANDLED, quick_delegate)
    event = AuditEvent.objects.get(action=AuditEvent.Action.REQUEST_CLOSED)
    assert event.details["outcome"] == SupportRequest.Status.HANDLED


def test_a_bulk_reset_closes_only_the_requests_it_answers(zoe, quick_delegate, college):
    other, _ = make_pupil(college, first_name="Léa", last_name="Martin")
    ask(identifier=zoe.identifier)
    ask(identifier=other.identifier)
    services.reset_passwords(quick_delegate, college, [zoe.pk])
    assert asked() == [other.pk]


def test_a_forced_change_closes_the_request(zoe, quick_head, college):
    ask(identifier=zoe.identifier)
    services.force_password_change(quick_head, college, account_ids=[zoe.pk])
    assert asked() == []
    zoe.refresh_from_db()
    assert zoe.state == AccountState.NOT_INFORMED
