"""Provisional passwords: 10 symbols from a 32-symbol alphabet, 50 bits, drawn with secrets.

The alphabet drops the digits 0 and 1 and the letters I and O, so nothing in it can be
read as something else (0/O, 1/I/L): L stays because neither 1 nor I is there to be
confused with it. 24 letters + 8 digits = 32 symbols = 5 bits each.
"""

from __future__ import annotations

import hmac
import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 10
assert len(ALPHABET) == 32 and len(set(ALPHABET)) == 32


def generate() -> str:
    # One byte per symbol, its low 5 bits: uniform over the 32 symbols (256 = 8 × 32), and
    # one call to the system's random source instead of ten (imports make thousands).
    return "".join(ALPHABET[b & 31] for b in secrets.token_bytes(LENGTH))


def canonical(candidate: str) -> str:
    """What the pupil typed, as it is stored: upper case, no spaces (letters are handed over
    on paper and often typed in lower case)."""
    return "".join(candidate.split()).upper()


def matches(stored: str, candidate: str) -> bool:
    return hmac.compare_digest(stored.encode(), canonical(candidate).encode())
