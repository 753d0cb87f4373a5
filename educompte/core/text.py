"""Text normalisation shared by search, identifiers and password rules, and the one
neutralisation of spreadsheet formulas for every CSV export."""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def strip_accents(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(value: str) -> str:
    """Lower-case ASCII words separated by single spaces.

    Apostrophes vanish (N'Guyen -> nguyen) and every other separator becomes a space
    (Lefèvre-Martin -> lefevre martin), so a search for "nguyen", "n'guyen" or
    "NGUYEN" finds the same pupil.
    """
    flat = _APOSTROPHES.sub("", strip_accents(value).lower())
    return _SEPARATORS.sub(" ", flat).strip()


def ascii_letters(value: str) -> str:
    """Only a-z, for building identifiers."""
    return normalize(value).replace(" ", "")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (CSV injection):
    free text and names come from outside."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
