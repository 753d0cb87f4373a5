"""The password forms pupils and staff share: choosing a new password (activation,
recovery link, invitation) and changing it in « Mon compte »."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

# In an app's templates: the forms renderer reads app directories only.
PASSWORD_FIELD = "www/password_field.html"  # noqa: S105 - a template name


def password_field(label: str, autocomplete: str) -> forms.CharField:
    """A password as typed (never stripped), with the browser's password-manager hint,
    shown as the DSFR password component (« Afficher »)."""
    return forms.CharField(
        label=label,
        strip=False,
        max_length=256,
        template_name=PASSWORD_FIELD,
        widget=forms.PasswordInput(
            attrs={"autocomplete": autocomplete, "class": "fr-password__input fr-input"}
        ),
    )


class NewPasswordForm(DsfrBaseForm):
    new_password1 = password_field(_("Nouveau mot de passe"), "new-password")
    new_password2 = password_field(_("Confirmation du nouveau mot de passe"), "new-password")

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("Les deux mots de passe ne sont pas identiques."))
        return data

    def refused(self, exc: ValidationError) -> None:
        """Show a refusal of the new password (Django's validators) on its field."""
        for error in exc.message_dict.get("new_password1", exc.messages):
            self.add_error("new_password1", error)


class ChangePasswordForm(NewPasswordForm):
    current_password = password_field(_("Mot de passe actuel"), "current-password")
    field_order = ["current_password", "new_password1", "new_password2"]
