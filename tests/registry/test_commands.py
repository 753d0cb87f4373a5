"""The registry's operator commands: ``import_students`` and ``transfer_requests``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from educompte.pupils.models import Student
from educompte.registry.models import TransferRequest
from educompte.schools.models import Mef
from tests.registry_helpers import (
    COLLEGE_UAI,
    LYCEE_UAI,
    MEFS,
    PUPILS,
    attack_csv,
    eleves_xml,
    import_as,
    nomenclature_xml,
    run_cli,
    state_of,
)

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[1]


def test_command_prints_the_summary_line(college, tmp_path):
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(PUPILS))
    nomenclature = tmp_path / "Nomenclature.xml"
    nomenclature.write_bytes(nomenclature_xml())

    output = run_cli(path, uai=COLLEGE_UAI, nomenclature=str(nomenclature))

    assert output.splitlines()[-1] == "created 6, updated 0, deactivated 0, unchanged 0"
    assert Student.objects.filter(establishment=college).count() == 6
    assert set(Mef.objects.values_list("code", "label")) == set(MEFS.items())


def test_installed_command_dry_run():
    """The ``educompte`` entry point, as an operator runs it, on a fresh SQLite database."""
    # Not pytest's tmp_path: concurrent pytest sessions rotate its base directory away.
    with tempfile.TemporaryDirectory(prefix="educompte-cli-") as tmp:
        _installed_command_dry_run(Path(tmp))


def _installed_command_dry_run(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "EDUCOMPTE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "educompte.settings",
    }
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(PUPILS))
    educompte = REPO / ".venv" / "bin" / "educompte"
    if not educompte.exists():  # a venv elsewhere: the same entry point through Python
        educompte = Path(sys.executable).with_name("educompte")

    def run(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [str(educompte), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    run("migrate", "--no-input", "-v", "0")
    run("add-establishment", COLLEGE_UAI, "Collège Jean Moulin")
    output = run("import-students", str(path), "--uai", COLLEGE_UAI, "--dry-run")

    lines = output.splitlines()
    assert lines[-1] == "created 6, updated 0, deactivated 0, unchanged 0"
    assert "dry run: nothing was written" in lines
    # Nothing was written: a real run still creates all six.
    output = run("import-students", str(path), "--uai", COLLEGE_UAI)
    assert output.splitlines()[-1] == "created 6, updated 0, deactivated 0, unchanged 0"


# --- The academy's command ----------------------------------------------------------------


def test_the_academy_decides_from_the_command_line(victim, lycee, quick_other_head):
    import_as(quick_other_head, lycee, attack_csv())
    transfer = TransferRequest.objects.get()
    out = io.StringIO()

    call_command("transfer_requests", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "1 pending transfer request(s)"
    assert f"{COLLEGE_UAI} -> {LYCEE_UAI}" in lines[0] and victim.user.username in lines[0]

    call_command("transfer_requests", accept=transfer.pk, stdout=out)
    assert out.getvalue().splitlines()[-1] == f"transfer request {transfer.pk} accepted"
    assert state_of(victim)[0] == LYCEE_UAI
    with pytest.raises(CommandError, match="already decided"):
        call_command("transfer_requests", refuse=transfer.pk)
    with pytest.raises(CommandError, match="no transfer request"):
        call_command("transfer_requests", refuse=99999)
