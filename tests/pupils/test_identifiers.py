"""Pupil identifiers: built from the name, unique, stable, and drawn for a whole import
batch at once (identifiers.generate_many)."""

from __future__ import annotations

import datetime
import random
import re

import pytest

from educompte.accounts.models import User
from educompte.pupils import identifiers, services
from educompte.pupils.models import StudentAccount
from tests.factories import make_pupil


def test_batch_identifiers_are_unique_and_follow_the_scheme():
    names = [("Zoé", "N'Guyen")] * 300 + [("Léa", "Martin")] * 5
    made = identifiers.generate_many(names, lambda _c: set(), rng=random.Random(3))
    assert len(made) == len(set(made)) == 305
    assert all(re.fullmatch(r"nzoe[0-9]{3,4}", m) for m in made[:300])
    assert all(re.fullmatch(r"mlea[0-9]{3}", m) for m in made[300:])


def test_crowded_prefix_grows_in_a_few_rounds():
    taken = {f"nzoe{n}" for n in range(100, 1000)}  # every 3-digit one is used
    rounds = []

    def busy(candidates: set[str]) -> set[str]:
        rounds.append(len(candidates))
        return candidates & taken

    made = identifiers.generate_many([("Zoé", "N'Guyen")] * 50, busy, rng=random.Random(1))
    assert not set(made) & taken
    assert all(re.fullmatch(r"nzoe[0-9]{4}", m) for m in made)
    assert len(rounds) <= 5  # 12 three-digit draws in rounds of 4, then four digits


def test_prefixes_found_full_start_longer_in_the_next_batch():
    taken = {f"nzoe{n}" for n in range(100, 1000)}
    crowded: dict[str, int] = {}
    rounds = []

    def busy(candidates: set[str]) -> set[str]:
        rounds.append(candidates)
        return candidates & taken

    identifiers.generate_many([("Zoé", "N'Guyen")] * 5, busy, crowded=crowded)
    assert crowded == {"nzoe": 1}  # three digits are full: four from now on
    rounds.clear()
    made = identifiers.generate_many([("Zoé", "N'Guyen")] * 5, busy, crowded=crowded)
    assert len(rounds) == 1 and all(re.fullmatch(r"nzoe[0-9]{4}", m) for m in made)


CHOSEN = "Une phrase de passe solide !"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- Identifiers ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_identifier_is_lowercase_ascii_from_the_name(zoe):
    account, _pw = zoe
    assert re.fullmatch(r"nzoe[0-9]{3}", account.identifier)
    assert account.identifier.isascii() and account.identifier == account.identifier.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "last", "base"),
    [
        ("Zoé", "N'Guyen-Lefèvre", "nzoe"),
        ("Éloïse", "Œuvray", "oeloi"),
        ("Jean-Baptiste", "de La Tour", "djean"),
        ("李", "王", "eleve"),
    ],
)
def test_identifier_base(first, last, base):
    assert identifiers.base_of(first, last) == base
    made = identifiers.generate(first, last, lambda _c: False)
    assert re.fullmatch(rf"{base}[0-9]{{3}}", made)


@pytest.mark.django_db
def test_identifiers_are_unique_for_same_names(college):
    made = {make_pupil(college)[0].identifier for _ in range(25)}
    assert len(made) == 25
    assert len(set(User.objects.values_list("username", flat=True))) == User.objects.count()


@pytest.mark.django_db
def test_identifier_avoids_taken_ones_and_grows_when_crowded():
    taken = {f"nzoe{n}" for n in range(100, 1000)}  # every 3-digit one
    made = identifiers.generate("Zoé", "N'Guyen", taken.__contains__, rng=random.Random(1))
    assert made not in taken
    assert re.fullmatch(r"nzoe[0-9]{4}", made)


@pytest.mark.django_db
def test_identifier_is_stable(college, quick_delegate, zoe):
    account, provisional = zoe
    identifier = account.identifier
    services.reset_password(quick_delegate, fresh(account))
    student = fresh(account).student
    student.last_name = "Martin"
    student.save()
    services.activate(fresh(account), new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
    assert fresh(account).identifier == identifier
