"""Pupil identifiers: lower-case ASCII from the name plus digits, unique installation-wide.

Built like the national service's (``lpaul507``): initial of the last name, first four
letters of the first name, then three digits, more digits when a prefix gets crowded.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable

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
