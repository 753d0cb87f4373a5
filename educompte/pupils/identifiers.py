"""Pupil identifiers: lower-case ASCII from the name plus digits, unique installation-wide.

Built like the national service's (``lpaul507``): initial of the last name, first four
letters of the first name, then three digits, more digits when a prefix gets crowded.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence

from educompte.core.text import ascii_letters

_FALLBACK = "eleve"


def base_of(first_name: str, last_name: str) -> str:
    base = ascii_letters(last_name)[:1] + ascii_letters(first_name)[:4]
    return base if len(base) >= 2 else _FALLBACK


def generate(
    first_name: str,
    last_name: str,
    is_taken: Callable[[str], bool],
    rng: random.Random | None = None,
) -> str:
    base = base_of(first_name, last_name)
    draw = rng.randrange if rng is not None else secrets.randbelow
    for digits in range(3, 9):
        low = 10 ** (digits - 1) if digits > 3 else 100
        span = 10**digits - low
        for _ in range(12):
            candidate = f"{base}{low + draw(span)}"
            if not is_taken(candidate):
                return candidate
    raise RuntimeError(f"no free identifier left for prefix {base!r}")


TRIES = 12  # random draws per number of digits before a longer number is tried
DIGITS = range(3, 9)
_PER_ROUND = 4  # draws checked per pupil and round in generate_many


def _span(digits: int) -> tuple[int, int]:
    low = 10 ** (digits - 1) if digits > 3 else 100
    return low, 10**digits - low


def generate_many(
    names: Sequence[tuple[str, str]],
    taken: Callable[[set[str]], set[str]],
    rng: random.Random | None = None,
    crowded: dict[str, int] | None = None,
) -> list[str]:
    """Identifiers for many pupils (``(first_name, last_name)`` pairs), drawn as
    ``generate`` draws them — ``TRIES`` random numbers per length, a longer number when a
    prefix is crowded — but checked a round at a time: ``taken`` receives every candidate
    of the round and returns those already used (one database query for a whole batch).

    At national scale the three-digit numbers of a common prefix are all used; checking
    one candidate per pupil and round then took hundreds of rounds per batch.

    ``crowded`` (prefix -> index in ``DIGITS``), kept by the caller from one batch to the
    next, remembers the prefixes found full at a length: their later pupils start longer."""
    crowded = {} if crowded is None else crowded
    # Identifiers are public logins, not secrets: a seeded generator draws them much faster
    # than the system's random source, one call per number.
    draw = (rng or random.Random(secrets.randbits(64))).randrange
    bases = [base_of(first, last) for first, last in names]
    chosen: list[str] = [""] * len(names)
    level = [crowded.get(base, 0) for base in bases]  # index in DIGITS
    tries = [0] * len(names)  # draws made at that length
    reserved: set[str] = set()  # chosen for this batch already
    pending = list(range(len(names)))
    while pending:
        offers: dict[int, list[str]] = {}
        for i in pending:
            if level[i] >= len(DIGITS):
                raise RuntimeError(f"no free identifier left for prefix {bases[i]!r}")
            low, span = _span(DIGITS[level[i]])
            count = min(_PER_ROUND, TRIES - tries[i])
            offers[i] = [f"{bases[i]}{low + draw(span)}" for _ in range(count)]
        busy = taken({c for candidates in offers.values() for c in candidates})
        still = []
        for i in pending:
            free = next((c for c in offers[i] if c not in busy and c not in reserved), None)
            if free is not None:
                chosen[i] = free
                reserved.add(free)
                continue
            tries[i] += len(offers[i])
            if tries[i] >= TRIES:
                level[i], tries[i] = level[i] + 1, 0
                crowded[bases[i]] = max(crowded.get(bases[i], 0), level[i])
            still.append(i)
        pending = still
    return chosen
