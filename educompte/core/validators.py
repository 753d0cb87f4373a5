"""Password rules beyond Django's own validators (shown to the pupil on the form)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from educompte.core.text import normalize


class MaximumLengthValidator:
    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "Le mot de passe ne doit pas dépasser %(n)d caractère.",
                    "Le mot de passe ne doit pas dépasser %(n)d caractères.",
                    self.max_length,
                )
                % {"n": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Au plus %(n)d caractères.") % {"n": self.max_length}


class ContainsNameValidator:
    """Refuse a password that contains the identifier, the first name or the last name."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None:
            return
        flat = normalize(password).replace(" ", "")
        for attr in ("username", "first_name", "last_name"):
            value = normalize(getattr(user, attr, "") or "")
            # The whole name, and each part of a compound one (N'Guyen-Lefèvre: "nguyen",
            # "lefevre"); parts shorter than 3 letters ("le", "de") would refuse too much.
            parts = {value.replace(" ", "")} | set(value.split())
            if any(len(part) >= 3 and part in flat for part in parts):
                raise ValidationError(
                    _("Le mot de passe ne doit contenir ni votre identifiant ni votre nom."),
                    code="password_contains_name",
                )

    def get_help_text(self) -> str:
        return _("Il ne doit contenir ni votre identifiant ni votre nom.")
