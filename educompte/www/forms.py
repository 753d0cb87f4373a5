from __future__ import annotations

from html import escape

from django import forms
from django.contrib.auth import password_validation
from django.forms.utils import flatatt
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from educompte.pupils.models import AccountState


class SignInForm(DsfrBaseForm):
    username = forms.CharField(
        label=_("Identifiant"),
        max_length=150,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class NewPasswordForm(DsfrBaseForm):
    new_password1 = forms.CharField(
        label=_("Nouveau mot de passe"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("Confirmation du nouveau mot de passe"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("Les deux mots de passe ne sont pas identiques."))
        return data


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


class FastSelect(forms.Select):
    """Django's Select with the same HTML, rendered in Python instead of two templates per
    option: with a hundred classes in the list, the console's filters took a fifth of the
    Dépannage page's time (bench/search.py, docs/PERFORMANCE.md). Flat choices only."""

    def render(self, name, value, attrs=None, renderer=None):
        if any(isinstance(label, (list, tuple)) for _value, label in self.choices):
            return super().render(name, value, attrs, renderer)  # option groups
        selected = set(self.format_value(value))
        parts = [f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>']
        for option_value, label in self.choices:
            option = "" if option_value is None else str(option_value)
            mark = ""
            if option in selected:
                mark = " selected"
                selected = ()  # like Django: a single select marks its first match only
            parts.append(
                f'<option value="{escape(option)}"{mark}>{conditional_escape(label)}</option>'
            )
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


class PupilSearchForm(DsfrBaseForm):
    q = forms.CharField(label=_("Nom ou prénom"), required=False, max_length=100)
    mef = forms.TypedChoiceField(
        label=_("MEF"), required=False, coerce=int, empty_value=None, widget=FastSelect
    )
    classe = forms.TypedChoiceField(
        label=_("Classe"), required=False, coerce=int, empty_value=None, widget=FastSelect
    )
    etat = forms.ChoiceField(
        label=_("États des comptes"),
        required=False,
        choices=[("", _("Tous les états"))] + list(AccountState.choices),
        widget=FastSelect,
    )
    tri = forms.ChoiceField(
        required=False,
        choices=[("nom", "nom"), ("-nom", "-nom"), ("classe", "classe"), ("-classe", "-classe")],
    )

    def __init__(self, *args, mefs=(), divisions=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mef"].choices = [("", _("Tous"))] + [(m.pk, m.label) for m in mefs]
        self.fields["classe"].choices = [("", _("Toutes"))] + [(d.pk, d.code) for d in divisions]


class DelegationForm(DsfrBaseForm):
    agent = forms.CharField(
        label=_("Agent"),
        max_length=150,
        help_text=_("Identifiant de connexion, ou prénom et nom de l'agent."),
    )
    right = forms.ChoiceField(
        label=_("Droit délégué"),
        choices=[
            ("depannage", _("Dépannage des comptes élèves")),
            ("administration", _("Administration des comptes")),
        ],
    )
    end = forms.DateField(
        label=_("Jusqu'au (inclus)"),
        help_text=_("Au plus un an. Par défaut : la fin de l'année scolaire."),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ReasonForm(DsfrBaseForm):
    reason = forms.CharField(
        label=_("Motif"),
        max_length=500,
        required=False,
        help_text=_(
            "Obligatoire pour une désactivation ou une réactivation ; il figure au journal."
        ),
    )


class AuditFilterForm(DsfrBaseForm):
    agent = forms.CharField(label=_("Agent"), required=False, max_length=150)
    pupil = forms.CharField(label=_("Élève (nom ou identifiant)"), required=False, max_length=150)
    action = forms.ChoiceField(label=_("Action"), required=False)
    start = forms.DateField(
        label=_("Du"),
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("Au"),
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, **kwargs) -> None:
        from educompte.audit.models import AuditEvent

        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Toutes les actions"))] + list(
            AuditEvent.Action.choices
        )


class ForgotForm(DsfrBaseForm):
    query = forms.CharField(
        label=_("Identifiant ou adresse électronique"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )


class SupportRequestForm(DsfrBaseForm):
    identifier = forms.CharField(
        label=_("Identifiant"),
        max_length=150,
        help_text=_("Il figure sur le courrier remis par l'établissement."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    class_given = forms.CharField(label=_("Classe"), max_length=30, help_text=_("Par exemple : 3A"))
    message = forms.CharField(
        label=_("Message (facultatif)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(
        label=_("Mot de passe actuel"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password1", "new_password2"]


class EmailForm(DsfrBaseForm):
    """A new address, or none to remove the recorded one; the current password first."""

    email = forms.EmailField(
        label=_("Adresse électronique"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    current_password = forms.CharField(
        label=_("Mot de passe actuel"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, has_address: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if has_address:
            self.fields["email"].required = False
            # On the bound field: DsfrBaseForm built it already (it copies the help text).
            self["email"].help_text = _("Laissez le champ vide pour retirer l'adresse.")
