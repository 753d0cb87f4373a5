"""Provisional passwords: alphabet, length, typing tolerance, encryption at rest."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from educompte.pupils import passwords, services
from educompte.pupils.models import StudentAccount
from tests.factories import make_pupil
from tests.helpers import raw_ciphertext

pytestmark = pytest.mark.django_db
LOOK_ALIKES = set("0O1I")


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- Provisional passwords ---------------------------------------------------------------


def test_alphabet_has_32_symbols_without_look_alikes():
    assert len(passwords.ALPHABET) == 32
    assert set(passwords.ALPHABET) == set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    assert not LOOK_ALIKES & set(passwords.ALPHABET)


def test_generated_passwords_are_10_symbols_of_the_alphabet():
    drawn = [passwords.generate() for _ in range(500)]
    for password in drawn:
        assert len(password) == 10
        assert set(password) <= set(passwords.ALPHABET)
        assert not LOOK_ALIKES & set(password)
    assert len(set(drawn)) == len(drawn)
    # 5,000 draws: every symbol of the alphabet shows up (else the draw is biased).
    assert set("".join(drawn)) == set(passwords.ALPHABET)


def test_new_account_gets_a_well_formed_provisional_password(zoe):
    account, password = zoe
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}", password)
    assert services.provisional_password(fresh(account)) == password


def test_typed_provisional_password_ignores_case_and_spaces():
    assert passwords.matches("ABCDE23456", "abcde 23456")
    assert not passwords.matches("ABCDE23456", "ABCDE23457")


def _everything_in_the_database() -> str:
    """Every row of every table, as text (small test databases only)."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    dump.append(str(value))
    return "\n".join(dump)


def test_provisional_password_is_stored_encrypted(zoe):
    account, password = zoe
    raw = raw_ciphertext(account)
    assert len(raw) > len(password)
    assert password.encode() not in raw
    assert password.lower().encode() not in raw
    # Nowhere else in the database either, in any table or column.
    dump = _everything_in_the_database()
    assert password not in dump
    assert password.lower() not in dump


def test_ciphertext_only_decrypts_on_its_own_account(college, zoe):
    account, password = zoe
    other, other_password = make_pupil(college, first_name="Hugo", last_name="Berthier")
    StudentAccount.objects.filter(pk=other.pk).update(
        provisional_password_encrypted=raw_ciphertext(account)
    )
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        services.provisional_password(fresh(other))
    assert services.provisional_password(fresh(account)) == password
