"""Forms of the pupil side: activation, forgotten password, request to the school,
"Mon compte"."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from educompte.www.passwords import NewPasswordForm, password_field


class ActivationForm(NewPasswordForm):
    birth_date = forms.DateField(
        label=_("Date de naissance"),
        help_text=_("Format attendu : jj/mm/aaaa"),
        input_formats=["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"],
        # A text field, not type=date: browsers show their own (often US) format there,
        # contradicting the hint, and a date of birth is quicker typed than picked.
        widget=forms.DateInput(
            attrs={"autocomplete": "bday", "inputmode": "numeric"}, format="%d/%m/%Y"
        ),
        error_messages={"invalid": _("Saisissez une date valide, par exemple 14/03/2011.")},
    )
    email = forms.EmailField(
        label=_("Adresse électronique (facultatif)"),
        help_text=_(
            "Pour réinitialiser vous-même votre mot de passe en cas d'oubli. "
            "Un lien de confirmation vous sera envoyé."
        ),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    @staticmethod
    def password_rules() -> list[str]:
        return password_validation.password_validators_help_texts()


class ForgotForm(DsfrBaseForm):
    query = forms.CharField(
        label=_("Identifiant ou adresse électronique"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )


class SupportRequestForm(DsfrBaseForm):
    """The identifier, or else the name, first name and date of birth (a pupil who lost
    the letter does not know the identifier)."""

    identifier = forms.CharField(
        label=_("Identifiant (si vous le connaissez)"),
        max_length=150,
        required=False,
        help_text=_("Il figure sur le courrier remis par l'établissement."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    last_name = forms.CharField(
        label=_("Nom"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    first_name = forms.CharField(
        label=_("Prénom"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    birth_date = forms.DateField(
        label=_("Date de naissance"),
        required=False,
        help_text=_("Format attendu : jj/mm/aaaa"),
        input_formats=["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"],
        widget=forms.DateInput(
            attrs={"autocomplete": "bday", "inputmode": "numeric"}, format="%d/%m/%Y"
        ),
        error_messages={"invalid": _("Saisissez une date valide, par exemple 14/03/2011.")},
    )
    class_given = forms.CharField(label=_("Classe"), max_length=30, help_text=_("Par exemple : 3A"))
    message = forms.CharField(
        label=_("Message (facultatif)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("identifier", "").strip() or "birth_date" in self.errors:
            return data
        missing = {
            "last_name": _("Indiquez votre nom (ou votre identifiant)."),
            "first_name": _("Indiquez votre prénom (ou votre identifiant)."),
            "birth_date": _("Indiquez votre date de naissance (ou votre identifiant)."),
        }
        for name, message in missing.items():
            if not data.get(name):
                self.add_error(name, message)
        return data


class EmailForm(DsfrBaseForm):
    """A new address, or none to remove the recorded one; the current password first."""

    email = forms.EmailField(
        label=_("Adresse électronique"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    current_password = password_field(_("Mot de passe actuel"), "current-password")

    def __init__(self, *args, has_address: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if has_address:
            self.fields["email"].required = False
            # On the bound field: DsfrBaseForm built it already (it copies the help text).
            self["email"].help_text = _("Laissez le champ vide pour retirer l'adresse.")
