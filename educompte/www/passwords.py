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


class KeepsPasswords:
    """A form whose password fields keep what was typed when the errors are on other fields
    (a wrong date of birth must not make a pupil type both passwords again); once a
    password is refused, every password field is emptied."""

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        self._keep_passwords()

    def add_error(self, field, error) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        self._keep_passwords()

    def _keep_passwords(self) -> None:
        errors = getattr(self, "_errors", None) or {}
        passwords = [
            (name, field)
            for name, field in self.fields.items()  # type: ignore[attr-defined]
            if isinstance(field.widget, forms.PasswordInput)
        ]
        keep = not any(name in errors for name, _field in passwords)
        for _name, field in passwords:
            field.widget.render_value = keep


class NewPasswordForm(KeepsPasswords, DsfrBaseForm):
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
