"""Credential letters (PDF, one page or eight cards per pupil) and the credentials export:
who is printed, in which order, who may print, and the audit trail."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from pypdf import PdfReader

from educompte.accounts import authz
from educompte.audit.models import AuditEvent
from educompte.letters.services import export_credentials_csv, issue_letters
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn, provisional_password, sign_in_pupil
from tests.factories import DivisionFactory, make_delegate, make_pupil


def pages_text(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


def assert_only_on_page(texts: list[str], needle: str, page: int) -> None:
    where = [i for i, text in enumerate(texts) if needle in text]
    assert where == [page], f"{needle!r} found on pages {where}, expected [{page}]"


# --- The letters ------------------------------------------------------------------------------


def test_one_page_per_pupil_in_class_then_name_order(college, delegate, class_3a):
    division, pupils = class_3a

    result = issue_letters(delegate, college, division=division)

    assert (result.count, result.skipped_activated) == (5, 0)
    assert result.pdf.startswith(b"%PDF")
    texts = pages_text(result.pdf)
    assert len(texts) == 5
    for i, (account, password) in enumerate(pupils):
        assert_only_on_page(texts, account.identifier, i)
        assert_only_on_page(texts, password, i)
        # Accents, "œ", apostrophes and hyphens survive the trip through the PDF.
        assert_only_on_page(texts, account.student.full_name, i)
        expiry = timezone.localdate(account.provisional_expires_at)
        assert f"Ce mot de passe provisoire expire le {expiry:%d/%m/%Y}" in texts[i]
    page = texts[0]
    for expected in (
        "Votre compte Educompte",
        "Collège Jean Moulin (0380001V)",
        "3A",
        "Identifiant",
        "Mot de passe provisoire",
        "Adresse de connexion",
        "Rendez-vous sur http://127.0.0.1:8000/connexion/",
        "Choisissez votre propre mot de passe et confirmez votre date de naissance",
        "Protection de vos données",
    ):
        assert expected in page
    assert "Collège Jean Moulin" in PdfReader(io.BytesIO(result.pdf)).metadata.title


def test_whole_establishment_sorts_by_class_then_name_and_takes_the_address(
    college, delegate, class_3a
):
    _, pupils = class_3a
    division_3b = DivisionFactory(establishment=college, code="3B")
    abel, _ = make_pupil(college, first_name="Aaron", last_name="Abel", division=division_3b)
    loner, _ = make_pupil(college, first_name="Bob", last_name="Aaronson")  # no class: last

    result = issue_letters(delegate, college, sign_in_url="https://educompte.example.fr/connexion/")

    texts = pages_text(result.pdf)
    order = [account for account, _ in pupils] + [abel, loner]
    assert len(texts) == len(order)
    for i, account in enumerate(order):
        assert_only_on_page(texts, account.identifier, i)
    assert "Rendez-vous sur https://educompte.example.fr/connexion/" in texts[0]


def test_cards_put_eight_pupils_on_a_page(college, delegate):
    division = DivisionFactory(establishment=college, code="4C")
    pupils = [
        make_pupil(college, first_name=first, last_name=f"Lœw-{letter}", division=division)
        for first, letter in zip(
            ["Inès", "Noé", "Maël", "Léa", "Aïcha", "Hélène", "Raphaël", "Côme", "Gaëlle"],
            "ABCDEFGHI",
            strict=True,
        )
    ]

    result = issue_letters(delegate, college, division=division, fmt="cards")

    assert result.count == 9
    texts = pages_text(result.pdf)
    assert len(texts) == 2
    for i, (account, password) in enumerate(pupils):
        page = 0 if i < 8 else 1
        assert_only_on_page(texts, account.identifier, page)
        assert_only_on_page(texts, password, page)
    assert "Gaëlle Lœw-I" in texts[1]


def test_activated_and_deactivated_accounts_are_left_out(college, delegate):
    division = DivisionFactory(establishment=college, code="5D")
    waiting, waiting_pw = make_pupil(
        college,
        first_name="Léo",
        last_name="Abadie",
        division=division,
        state=AccountState.NOT_INFORMED,
    )
    informed, _ = make_pupil(college, first_name="Léa", last_name="Bernard", division=division)
    active, active_pw = make_pupil(
        college, first_name="Noé", last_name="Carré", division=division, state=AccountState.ACTIVE
    )
    gone, gone_pw = make_pupil(
        college,
        first_name="Inès",
        last_name="Durand",
        division=division,
        state=AccountState.DEACTIVATED,
    )

    result = issue_letters(delegate, college, division=division)

    assert (result.count, result.skipped_activated) == (2, 1)
    text = "".join(pages_text(result.pdf))
    assert waiting.identifier in text and waiting_pw in text
    for account, password in ((active, active_pw), (gone, gone_pw)):
        assert account.identifier not in text and password not in text
    states = dict(StudentAccount.objects.values_list("pk", "state"))
    assert states[waiting.pk] == AccountState.INFORMED  # told now
    assert states[informed.pk] == AccountState.INFORMED  # unchanged
    assert states[active.pk] == AccountState.ACTIVE
    assert states[gone.pk] == AccountState.DEACTIVATED
    lettered = AuditEvent.objects.filter(action=AuditEvent.Action.LETTER_ISSUED)
    assert set(lettered.values_list("account_id", flat=True)) == {waiting.pk, informed.pk}


def test_an_expired_provisional_password_is_renewed_before_printing(college, delegate, zoe):
    account, old_password = zoe
    now = timezone.now()
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=now - datetime.timedelta(days=1)
    )

    result = issue_letters(delegate, college, account_ids=[account.pk], now=now)

    account.refresh_from_db()
    new_password = provisional_password(account)
    assert new_password and new_password != old_password
    assert account.provisional_expires_at > now
    text = pages_text(result.pdf)[0]
    assert new_password in text and old_password not in text
    assert sign_in_pupil(account.identifier, old_password).outcome == SignIn.FAILED
    assert sign_in_pupil(account.identifier, new_password).outcome == SignIn.ACTIVATE
    event = AuditEvent.objects.get(action=AuditEvent.Action.LETTER_ISSUED)
    assert event.details == {"format": "page", "renewed": True}


def test_a_valid_provisional_password_is_printed_unchanged(college, delegate, zoe):
    account, password = zoe

    result = issue_letters(delegate, college, account_ids=[account.pk])

    account.refresh_from_db()
    assert provisional_password(account) == password
    assert password in pages_text(result.pdf)[0]


def test_letters_are_audited_without_passwords(college, delegate, class_3a):
    division, pupils = class_3a

    issue_letters(delegate, college, division=division, fmt="cards")
    export_credentials_csv(delegate, college, division=division)

    events = AuditEvent.objects.filter(action=AuditEvent.Action.LETTER_ISSUED)
    assert events.count() == len(pupils)
    for event in events:
        assert event.actor == delegate and event.actor_label == delegate.username
        assert event.establishment == college
        assert event.subject_label == event.account.identifier
        assert event.details == {"format": "cards"}
    exported = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIALS_EXPORTED)
    assert exported.details == {"count": 5, "division": "3A"}
    passwords = [password for _, password in pupils]
    for event in AuditEvent.objects.all():
        values = [str(getattr(event, field.attname)) for field in AuditEvent._meta.concrete_fields]
        values.append(json.dumps(event.details))
        for password in passwords:
            assert not any(password in value for value in values), event.action


# --- Who may print what ---------------------------------------------------------------------


def test_another_establishments_head_cannot_print_or_export(college, other_head, zoe):
    with pytest.raises(PermissionDenied):
        issue_letters(other_head, college)
    with pytest.raises(PermissionDenied):
        export_credentials_csv(other_head, college)
    assert not AuditEvent.objects.filter(establishment=college).exists()
    assert StudentAccount.objects.get(pk=zoe[0].pk).state == AccountState.INFORMED


def test_no_agent_is_refused_unless_operator(college, head, zoe):
    with pytest.raises(PermissionDenied):
        issue_letters(None, college)
    with pytest.raises(PermissionDenied):
        export_credentials_csv(None, college)
    with pytest.raises(TypeError):  # no keyword lets a view skip the check any more
        issue_letters(head, college, operator=True)
    assert issue_letters(head, college).count == 1  # the head holds Dépannage
    assert issue_letters(authz.OPERATOR, college).count == 1
    assert export_credentials_csv(authz.OPERATOR, college).startswith(b"\xef\xbb\xbfNom;")
    # The operator's events are linked to no login (and named as they always were).
    events = AuditEvent.objects.filter(actor__isnull=True, establishment=college)
    assert {(e.action, e.actor_label) for e in events} == {
        (AuditEvent.Action.LETTER_ISSUED, authz.OPERATOR.username),
        (AuditEvent.Action.CREDENTIALS_EXPORTED, authz.OPERATOR.username),
    }


def test_other_establishments_ids_and_classes_are_ignored_or_refused(college, lycee, delegate, zoe):
    foreign, foreign_pw = make_pupil(
        lycee, first_name="Paul", last_name="Marchand", state=AccountState.NOT_INFORMED
    )
    account, _ = zoe

    result = issue_letters(delegate, college, account_ids=[account.pk, foreign.pk])

    assert result.count == 1
    text = pages_text(result.pdf)[0]
    assert account.identifier in text
    assert foreign.identifier not in text and foreign_pw not in text
    foreign.refresh_from_db()
    assert foreign.state == AccountState.NOT_INFORMED
    with pytest.raises(ValidationError):
        issue_letters(delegate, college, division=DivisionFactory(establishment=lycee))
    rows = export_credentials_csv(delegate, college, account_ids=[foreign.pk])
    assert foreign.identifier not in rows.decode("utf-8-sig")


def test_an_empty_selection_prints_nothing(college, delegate, zoe):
    result = issue_letters(delegate, college, account_ids=[])

    assert (result.count, result.skipped_activated) == (0, 0)
    assert len(pages_text(result.pdf)) == 1
    assert zoe[0].identifier not in pages_text(result.pdf)[0]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LETTER_ISSUED).exists()


def test_an_unknown_format_changes_nothing(college, delegate):
    waiting, _ = make_pupil(college, state=AccountState.NOT_INFORMED)

    with pytest.raises(ValueError):
        issue_letters(delegate, college, fmt="poster")

    waiting.refresh_from_db()
    assert waiting.state == AccountState.NOT_INFORMED
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LETTER_ISSUED).exists()


def test_a_delegation_to_another_establishment_is_not_enough(college, lycee, zoe):
    agent = make_delegate(lycee, username="cpe-lycee")
    with pytest.raises(PermissionDenied):
        issue_letters(agent, college, account_ids=[zoe[0].pk])


# --- CSV export ---------------------------------------------------------------------------------


def test_credentials_csv(college, delegate):
    division = DivisionFactory(establishment=college, code="6E")
    waiting, waiting_pw = make_pupil(
        college,
        first_name="@Léa",
        last_name="=Dupont",
        division=division,
        state=AccountState.NOT_INFORMED,
    )
    active, _ = make_pupil(
        college, first_name="Noé", last_name="Martin", division=division, state=AccountState.ACTIVE
    )
    gone, _ = make_pupil(
        college,
        first_name="Inès",
        last_name="Petit",
        division=division,
        state=AccountState.DEACTIVATED,
    )

    data = export_credentials_csv(delegate, college, division=division)

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == (
        "Nom;Prénom;Classe;Identifiant;Mot de passe provisoire;Expire le;État du compte"
    )
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))[1:]
    expiry = timezone.localdate(waiting.provisional_expires_at)
    assert rows == [
        [
            "'=Dupont",
            "'@Léa",
            "6E",
            waiting.identifier,
            waiting_pw,
            f"{expiry:%d/%m/%Y}",
            "Non activé - non informé",
        ],
        ["Martin", "Noé", "6E", active.identifier, "", "", "Activé"],
    ]
    assert gone.identifier not in text
    waiting.refresh_from_db()
    assert waiting.state == AccountState.NOT_INFORMED  # exporting informs nobody
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIALS_EXPORTED)
    assert event.actor == delegate and event.establishment == college
    assert event.details == {"count": 2, "division": "6E"}
