"""Form of Administration des comptes, tab "Transferts"."""

from __future__ import annotations

from django import forms
from dsfr.forms import DsfrBaseForm


class DecisionForm(DsfrBaseForm):
    decision = forms.ChoiceField(choices=[("accept", "accept"), ("refuse", "refuse")])
