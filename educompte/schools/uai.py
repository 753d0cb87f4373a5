"""UAI (Unité administrative immatriculée): seven characters and a check letter."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# 23 letters: I, O and Q are never used as check letters.
_CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_RE = re.compile(r"^(\d{7})([A-Z])$")


def check_letter(digits: str) -> str:
    return _CHECK_LETTERS[int(digits) % 23]


def normalize_uai(value: str) -> str:
    return (value or "").strip().upper()


def validate_uai(value: str) -> None:
    uai = normalize_uai(value)
    match = _UAI_RE.match(uai)
    if not match:
        raise ValidationError(
            _("« %(uai)s » n'est pas un UAI : 7 chiffres suivis d'une lettre sont attendus.")
            % {"uai": value},
            code="uai_format",
        )
    digits, letter = match.groups()
    expected = check_letter(digits)
    if letter != expected:
        raise ValidationError(
            _("L'UAI « %(uai)s » est invalide : la lettre de contrôle devrait être %(letter)s.")
            % {"uai": value, "letter": expected},
            code="uai_check_letter",
        )
