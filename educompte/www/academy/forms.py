"""Forms of the academy console."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from educompte.sso import scopes as sso_scopes


class EstablishmentForm(DsfrBaseForm):
    uai = forms.CharField(
        label=_("UAI"),
        max_length=8,
        help_text=_("7 chiffres et la lettre de contrôle, par exemple 0380001V."),
    )
    name = forms.CharField(label=_("Nom de l'établissement"), max_length=200)


class RenameForm(DsfrBaseForm):
    name = forms.CharField(label=_("Nouveau nom"), max_length=200)


class HeadForm(DsfrBaseForm):
    agent = forms.CharField(
        label=_("Agent à nommer chef d'établissement"),
        max_length=150,
        help_text=_("Identifiant de connexion de l'agent."),
    )


class ServiceForm(DsfrBaseForm):
    name = forms.CharField(label=_("Nom du service"), max_length=255)
    redirect_uris = forms.CharField(
        label=_("Adresses de retour"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Une par ligne, comparées caractère par caractère, en https:// (http:// seulement "
            "pour 127.0.0.1 et localhost en développement)."
        ),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Données transmises au service"),
        choices=[(s, format_lazy("{} — {}", s, label)) for s, label in sso_scopes.SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("openid (l'identifiant propre au service) est toujours transmis."),
    )
    home_url = forms.CharField(
        label=_("Adresse d'accueil (facultatif)"),
        required=False,
        help_text=_("Page proposée aux élèves dans « Mes services »."),
    )
    post_logout_redirect_uris = forms.CharField(
        label=_("Adresses après déconnexion (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("Une par ligne : où le service peut renvoyer l'élève après sa déconnexion."),
    )

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "redirect_uris": data["redirect_uris"],
            "scopes": data["scopes"],
            "home_url": data["home_url"].strip(),
            "post_logout_redirect_uris": data["post_logout_redirect_uris"],
        }

    def add_errors(self, exc: ValidationError) -> None:
        for field, errors in exc.message_dict.items():
            for error in errors:
                self.add_error(field if field in self.fields else None, error)
