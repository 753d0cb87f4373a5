"""Forms of Administration des comptes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm


class ReasonForm(DsfrBaseForm):
    reason = forms.CharField(
        label=_("Motif"),
        max_length=500,
        required=False,
        help_text=_(
            "Obligatoire pour une désactivation ou une réactivation ; il figure au journal."
        ),
    )


class DelegationForm(DsfrBaseForm):
    agent = forms.CharField(
        label=_("Agent"),
        max_length=150,
        help_text=_(
            "Choisissez parmi les personnels de l'établissement, ou saisissez l'identifiant "
            "de connexion, ou le prénom et le nom de l'agent."
        ),
        widget=forms.TextInput(attrs={"list": "staff-list", "autocomplete": "off"}),
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


class InviteAgentForm(DsfrBaseForm):
    first_name = forms.CharField(
        label=_("Prénom"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    last_name = forms.CharField(
        label=_("Nom"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    email = forms.EmailField(
        label=_("Adresse électronique professionnelle"),
        help_text=_("L'invitation à choisir un mot de passe y est envoyée."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
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

    def __init__(self, *args, actions: list[tuple[str, str]] | None = None, **kwargs) -> None:
        """``actions``: the choices of the action filter (those of the establishment's
        journal); every action when not given."""
        from educompte.audit.models import AuditEvent

        super().__init__(*args, **kwargs)
        choices = AuditEvent.Action.choices if actions is None else actions
        self.fields["action"].choices = [("", _("Toutes les actions")), *choices]


class DecisionForm(DsfrBaseForm):
    decision = forms.ChoiceField(choices=[("accept", "accept"), ("refuse", "refuse")])


MAX_UPLOAD = 200 * 1024 * 1024


class ImportForm(DsfrBaseForm):
    file = forms.FileField(
        label=gettext_lazy("Fichier de la base élèves"),
        help_text=gettext_lazy(
            "Export SIECLE « ElevesSansAdresses.xml » ou fichier CSV au format Educompte "
            "(voir la documentation)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.csv,.txt"}),
    )
    nomenclature = forms.FileField(
        label=gettext_lazy("Nomenclature SIECLE (facultatif)"),
        help_text=gettext_lazy("Export « Nomenclature.xml », pour les libellés des MEF."),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".xml"}),
    )
    complete = forms.BooleanField(
        label=gettext_lazy("Export complet : les élèves absents du fichier seront désactivés"),
        required=False,
        initial=True,
    )

    def clean(self) -> dict:
        data = super().clean()
        for name in ("file", "nomenclature"):
            upload = data.get(name)
            if upload is not None and upload.size > MAX_UPLOAD:
                self.add_error(name, gettext("Fichier trop volumineux (200 Mo au plus)."))
        upload = data.get("file")
        if upload is not None and not upload.name.lower().endswith((".xml", ".csv", ".txt")):
            self.add_error(
                "file",
                gettext("Format non reconnu : un fichier .xml (SIECLE) ou .csv est attendu."),
            )
        return data
