"""Identifiers drawn for a whole import batch at once (identifiers.generate_many), and the
registry's fast date reading: the import's hot paths (bench/imports.py)."""

from __future__ import annotations

import datetime
import random
import re

import pytest

from educompte.pupils import identifiers
from educompte.registry.parsers import _date


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


def test_registry_dates_read_fast_and_strictly():
    assert _date("14/03/2011") == datetime.date(2011, 3, 14)
    assert _date("2011-03-14") == datetime.date(2011, 3, 14)
    assert _date(" ") is None
    for bad in ("31/02/2011", "1a/03/2011", "14/+3/2011"):
        with pytest.raises(ValueError):
            _date(bad)
