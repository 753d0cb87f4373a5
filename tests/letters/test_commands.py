"""The ``letters`` operator command: the PDF and the CSV of credentials."""

from __future__ import annotations

import io
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pypdf import PdfReader

from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, StudentAccount
from educompte.schools.models import school_year_of
from tests.factories import DivisionFactory, make_pupil


def pages_text(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


# --- Command line ------------------------------------------------------------------------------


def test_command_writes_the_pdf_and_the_csv(college, class_3a, tmp_path):
    division, pupils = class_3a
    make_pupil(
        college, first_name="Noé", last_name="Actif", division=division, state=AccountState.ACTIVE
    )
    # A class of last year with the same code is not this year's 3A.
    last_year = DivisionFactory(
        establishment=college, code="3A", school_year=school_year_of(timezone.localdate()) - 1
    )
    old, _ = make_pupil(college, first_name="Ancien", last_name="Élève", division=last_year)
    target, csv_file, out = tmp_path / "3A.pdf", tmp_path / "3A.csv", io.StringIO()

    call_command(
        "letters",
        "--uai",
        college.uai,
        "--class",
        "3A",
        "--format",
        "cards",
        "-o",
        str(target),
        "--csv",
        str(csv_file),
        stdout=out,
    )

    assert (
        f"letters: 5 pupils written to {target} (1 activated accounts left out)" in out.getvalue()
    )
    document = target.read_bytes()
    assert document.startswith(b"%PDF")
    text = "".join(pages_text(document))
    assert all(account.identifier in text for account, _ in pupils)
    assert old.identifier not in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = csv_file.read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("Nom;Prénom;Classe;")
    events = AuditEvent.objects.filter(action=AuditEvent.Action.LETTER_ISSUED)
    assert events.count() == 5
    assert {(e.actor_id, e.actor_label) for e in events} == {(None, "")}


def test_command_defaults_to_the_whole_establishment_in_pages(college, zoe, tmp_path):
    target = tmp_path / "all.pdf"
    call_command("letters", "--uai", college.uai, "-o", str(target), stdout=io.StringIO())
    assert len(pages_text(target.read_bytes())) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--uai", "0389999Z"], "unknown establishment"),
        (["--uai", "0380001V", "--class", "9Z"], "unknown class"),
        (["--uai", "0380001V", "--format", "poster"], "unknown format"),
    ],
)
def test_command_errors(college, zoe, tmp_path, args, message):
    target = tmp_path / "out.pdf"
    with pytest.raises(CommandError, match=message):
        call_command("letters", *args, "-o", str(target), stdout=io.StringIO())
    assert not target.exists()
    assert StudentAccount.objects.get(pk=zoe[0].pk).state == AccountState.INFORMED
