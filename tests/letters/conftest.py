"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import pytest

from tests.factories import DivisionFactory, make_pupil

EXPECTED_ORDER = ["Bœuf", "D'Artagnan", "Dupont-Aignan", "N'Guyen-Lefèvre", "Œuvray"]


CLASS_NAMES = [
    ("Zoé", "N'Guyen-Lefèvre"),
    ("Chloé", "Œuvray"),
    ("Anaïs", "Bœuf"),
    ("Éléonore", "Dupont-Aignan"),
    ("Jean-Noël", "D'Artagnan"),
]


@pytest.fixture
def class_3a(college):
    """Five pupils of 3A ("Non activé - informé"), returned in the letters' order."""
    division = DivisionFactory(establishment=college, code="3A")
    pupils = [
        make_pupil(college, first_name=first, last_name=last, division=division)
        for first, last in CLASS_NAMES
    ]
    pupils.sort(key=lambda p: EXPECTED_ORDER.index(p[0].student.last_name))
    return division, pupils
