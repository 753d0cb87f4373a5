"""educompte.demo.siecle: the demo registry files are reproducible and importable."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.demo import services as demo
from educompte.demo import siecle
from educompte.pupils.models import Student
from educompte.registry.parsers import BadFile, SieclePupils, read_nomenclature
from educompte.registry.services import run_import
from tests.registry_helpers import COLLEGE_UAI, LYCEE_UAI, counts

pytestmark = pytest.mark.django_db


# --- Shipped demo files ----------------------------------------------------------------


def test_demo_files_are_reproducible_and_importable(college):
    generated = demo.generated_files()
    shipped = {p.name: p.read_bytes() for p in siecle.DATA_DIR.glob("*.xml")}
    assert set(shipped) == set(generated)
    for name, content in generated.items():
        assert shipped[name] == content, f"{name} differs from what the generator makes"

    labels = read_nomenclature(demo.NOMENCLATURE_FILE)
    assert labels == {**demo.COLLEGE["mefs"], **demo.LYCEE["mefs"]}
    for spec in demo.SPECS:
        uai = spec["uai"]
        assert SieclePupils(demo.eleves_file(uai), labels).validate(uai) == 432
    with pytest.raises(BadFile):
        SieclePupils(demo.eleves_file(LYCEE_UAI)).validate(COLLEGE_UAI)

    source = SieclePupils(demo.eleves_file(COLLEGE_UAI), labels)
    assert counts(run_import(authz.OPERATOR, college, source)) == (432, 0, 0, 0)
    zoe = Student.objects.select_related("division", "mef").get(
        first_name="Zoé", last_name="N'Guyen-Lefèvre"
    )
    assert (zoe.division.code, zoe.mef.label) == ("3A", "3EME")
