"""Forms of the staff portal: the second factor's code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm


class CodeForm(DsfrBaseForm):
    code = forms.CharField(
        label=gettext_lazy("Code de vérification"),
        help_text=gettext_lazy(
            "Les 6 chiffres affichés par votre application, ou un code de secours."
        ),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class StaffForgotForm(DsfrBaseForm):
    query = forms.CharField(
        label=gettext_lazy("Identifiant de connexion ou adresse électronique"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
