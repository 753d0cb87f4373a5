"""The operator commands of the schools: ``add_establishment`` and ``mef_labels``."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from educompte.audit.models import AuditEvent
from educompte.schools.models import Establishment, Mef
from tests.registry_helpers import MEF_3, MEF_4, import_xml, nomenclature_xml


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


# --- add-establishment -------------------------------------------------------------------


@pytest.mark.django_db
def test_add_establishment():
    output = run("add_establishment", "0380001v", "Collège Jean Moulin")
    assert "0380001V" in output
    est = Establishment.objects.get()
    assert (est.uai, est.name) == ("0380001V", "Collège Jean Moulin")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ESTABLISHMENT_CREATED, establishment=est
    ).exists()


@pytest.mark.django_db
def test_add_establishment_with_a_wrong_check_letter():
    with pytest.raises(CommandError) as exc:
        run("add_establishment", "0380001A", "Collège")
    message = str(exc.value)
    assert "lettre de contrôle" in message
    assert "V" in message.split("lettre de contrôle")[1]  # tells the right letter
    assert not Establishment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("uai", ["038001V", "0380001", "ABCDEFGH", ""])
def test_add_establishment_with_a_malformed_uai(uai):
    with pytest.raises(CommandError, match="7 chiffres"):
        run("add_establishment", uai, "Collège")
    assert not Establishment.objects.exists()


@pytest.mark.django_db
def test_add_establishment_twice(college):
    with pytest.raises(CommandError, match="already exists"):
        run("add_establishment", "0380001V", "Autre nom")
    assert Establishment.objects.get().name == "Collège Jean Moulin"


@pytest.mark.django_db
def test_the_academy_command_sets_mef_labels(college, tmp_path):
    import_xml(college)
    nomenclature = tmp_path / "Nomenclature.xml"
    nomenclature.write_bytes(nomenclature_xml({MEF_3: "3EME BILANGUE", "12345678901": "6EME"}))
    out = io.StringIO()

    call_command("mef_labels", str(nomenclature), stdout=out)

    assert out.getvalue().splitlines()[-1] == "labels changed 1, created 1"
    assert dict(Mef.objects.values_list("code", "label")) == {
        MEF_3: "3EME BILANGUE",
        MEF_4: "4EME",
        "12345678901": "6EME",
    }
    with pytest.raises(CommandError, match="no such file"):
        call_command("mef_labels", str(tmp_path / "missing.xml"))
