"""educompte/www/pupil_search.py: ``FastSelect`` renders like Django's ``forms.Select``."""

from __future__ import annotations

import pytest
from django import forms
from django.test.html import parse_html
from django.utils.safestring import mark_safe

from educompte.www.pupil_search import FastSelect, PupilSearchForm
from tests.factories import DivisionFactory, MefFactory
from tests.html_helpers import elements, find

# --- FastSelect -----------------------------------------------------------------------------


FLAT = [
    ("", "Tous"),
    (1, "3EME & <GEN>"),
    ("1", "doublon de 1"),
    ("x\"y'<z>", 'l\'élève "A&B"'),
    (None, "sans valeur"),
    (0, "zéro"),
    ("é/ç", "accents"),
]


@pytest.mark.parametrize(
    "value", [None, "", "1", 1, ["1"], 0, "0", "x\"y'<z>", "é/ç", "absent", ["absent"]]
)
@pytest.mark.parametrize(
    "attrs",
    [
        None,
        {"id": "id_mef"},
        {"id": "id_mef", "required": True, "disabled": False, "data-x": 'a"b&c', "class": "fr"},
    ],
)
def test_fast_select_renders_flat_choices_like_django_select(value, attrs):
    fast = FastSelect(choices=FLAT, attrs={"class": "fr-select"})
    django = forms.Select(choices=FLAT, attrs={"class": "fr-select"})
    ours = fast.render("mef", value, attrs)
    theirs = django.render("mef", value, attrs)
    assert parse_html(ours) == parse_html(theirs)
    # The same options in the same order, the first match only selected.
    assert _options(ours) == _options(theirs)
    assert _selected(ours) <= 1
    assert "<GEN>" not in ours and "'<z>" not in ours


def _options(html: str) -> list[tuple[str | None, str, bool]]:
    """(value, label, selected) of each option, in order."""
    return [
        (e.attrs.get("value"), e.text, "selected" in e.attrs)
        for e in find(elements(html), "option")
    ]


def _selected(html: str) -> int:
    return sum(selected for _value, _label, selected in _options(html))


def test_fast_select_marks_only_the_first_matching_option():
    html = FastSelect(choices=FLAT).render("mef", "1")
    selected = [e for e in find(elements(html), "option") if "selected" in e.attrs]
    assert [(e.attrs["value"], e.text) for e in selected] == [("1", "3EME & <GEN>")]


def test_fast_select_with_lazy_labels_and_an_empty_list():
    from django.utils.translation import gettext_lazy

    choices = [("", gettext_lazy("Tous"))]
    assert parse_html(FastSelect(choices=choices).render("m", None)) == parse_html(
        forms.Select(choices=choices).render("m", None)
    )
    assert parse_html(FastSelect(choices=[]).render("m", None, {"id": "i"})) == parse_html(
        forms.Select(choices=[]).render("m", None, {"id": "i"})
    )


@pytest.mark.parametrize(
    "choices",
    [
        [("", "Tous"), ("Collège & <cycle 4>", [(1, "3EME"), (2, "4EME <b>")]), (3, "Autre")],
        {'Groupe "A"': {"a": "A & a"}, "b": "B"},
        [("G1", ((1, "un"), (2, "deux"))), ("G2", [(1, "un encore")])],
    ],
)
@pytest.mark.parametrize("value", [None, 1, "1", "a", 2])
def test_fast_select_falls_back_to_django_for_option_groups(choices, value):
    attrs = {"id": "id_g", "required": True}
    ours = FastSelect(choices=choices).render("g", value, attrs)
    theirs = forms.Select(choices=choices).render("g", value, attrs)
    assert ours == theirs
    assert "<optgroup" in ours


def test_search_form_fields_render_like_django_select(college):
    mefs = [MefFactory(label="3EME & <GEN>"), MefFactory(label="4EME")]
    divisions = [DivisionFactory(establishment=college, code=c) for c in ("3A", "3<B>")]
    data = {"mef": str(mefs[1].pk), "classe": str(divisions[1].pk), "etat": "active"}
    for bound in (None, data):
        form = PupilSearchForm(bound, mefs=mefs, divisions=divisions)
        for name in ("mef", "classe", "etat"):
            field = form.fields[name]
            assert isinstance(field.widget, FastSelect)
            ours = str(form[name])
            field.widget = forms.Select(choices=field.choices, attrs=field.widget.attrs)
            theirs = str(form[name])
            assert parse_html(ours) == parse_html(theirs), name
            assert f'id="id_{name}"' in ours
            if bound:
                assert _selected(ours) == 1


def test_fast_select_does_not_escape_a_label_marked_safe_twice():
    """Django's Select leaves a label marked safe as it is (conditional_escape); the
    "same HTML" promise covers it too."""
    choices = [("1", mark_safe("Cycle 4 &amp; <em>3EME</em>"))]  # noqa: S308 - test data
    ours = FastSelect(choices=choices).render("m", "1")
    theirs = forms.Select(choices=choices).render("m", "1")
    assert parse_html(ours) == parse_html(theirs)
