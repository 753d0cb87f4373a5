"""The pupil search of the Dépannage and Administration consoles: the filters form and
what it selects."""

from __future__ import annotations

from html import escape

from django import forms
from django.forms.utils import flatatt
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from educompte.pupils import selectors
from educompte.pupils.models import AccountState


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
    q = forms.CharField(label=_("Nom, prénom ou identifiant"), required=False, max_length=100)
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


def search_filters(form: PupilSearchForm) -> selectors.PupilFilters:
    """The filters that validated: a stale class or MEF id in the URL is ignored (and shown
    on the form) instead of dropping the name typed with it."""
    if not form.is_bound:
        return selectors.PupilFilters()
    form.is_valid()
    data = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
    return selectors.PupilFilters(
        query=data.get("q") or "",
        mef=data.get("mef"),
        division=data.get("classe"),
        state=data.get("etat") or "",
        sort=data.get("tri") or selectors.DEFAULT_SORT,
    )
