"""Hostile registry files (security issue 11, item 12, and class codes of item 13): each
is refused with a clear message through the web upload and the command line, never a
server error, and neither data nor the upload is left behind."""

from __future__ import annotations

import datetime
import os
import random
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from educompte.registry import jobs
from educompte.registry.models import ImportJob
from educompte.registry.parsers import BadFile, class_code_problem, open_source, read_nomenclature
from educompte.schools.models import Division
from tests.helpers import verified
from tests.registry_helpers import (
    COEUR,
    LAUGHS,
    NEWCOMER,
    PUPILS,
    XXE,
    _hostile,
    confirm_url,
    csv_bytes,
    csv_row,
    eleves_text,
    eleves_xml,
    import_csv,
    import_xml,
    job_url,
    nomenclature_xml,
    page,
    problem_rows,
    pupil,
    run_cli,
    snapshot,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db

UAI = "0380001V"
ENCODINGS = "(UTF-8, ISO-8859-1, ISO-8859-15 ou Windows-1252 attendu)"
CSV_HEADER = b"id_eleve;ine;nom;prenom;date_naissance;classe\r\n"


def _declared(encoding: str, codec: str | None = None) -> bytes:
    """A valid export whose declaration names ``encoding`` (written with ``codec``)."""
    return eleves_text([COEUR, NEWCOMER], encoding=encoding).encode(codec or "ascii", "replace")


def _garbage(size: int = 20_000) -> bytes:
    rng = random.Random(11)  # the same bytes at every run
    return bytes(rng.randrange(256) for _ in range(size))


# name, content, expected (ref, reason fragment) of the single problem
HOSTILE = {
    "xml-utf7": (
        "ElevesSansAdresses.xml",
        _declared("UTF-7"),
        ("fichier", f"encodage « UTF-7 » non pris en charge {ENCODINGS}"),
    ),
    "xml-utf16": (
        "ElevesSansAdresses.xml",
        _declared("UTF-16", "utf-16"),
        ("fichier", f"encodage « UTF-16/UTF-32 » non pris en charge {ENCODINGS}"),
    ),
    "xml-utf16-declared": (
        "ElevesSansAdresses.xml",
        _declared("UTF-16"),
        ("fichier", f"encodage « UTF-16 » non pris en charge {ENCODINGS}"),
    ),
    "xml-shift-jis": (
        "ElevesSansAdresses.xml",
        _declared("Shift_JIS"),
        ("fichier", f"encodage « Shift_JIS » non pris en charge {ENCODINGS}"),
    ),
    "xml-ebcdic": (
        "ElevesSansAdresses.xml",
        _declared("cp500"),
        ("fichier", f"encodage « cp500 » non pris en charge {ENCODINGS}"),
    ),
    "xml-unknown-encoding": (
        "ElevesSansAdresses.xml",
        _declared("X-MARTIAN"),
        ("fichier", f"encodage inconnu : « X-MARTIAN » {ENCODINGS}"),
    ),
    "xml-bom-only": ("ElevesSansAdresses.xml", b"\xef\xbb\xbf", ("fichier", "fichier vide")),
    "xml-blank": ("ElevesSansAdresses.xml", b" \r\n\t\n", ("fichier", "fichier vide")),
    "xml-garbage": ("ElevesSansAdresses.xml", _garbage(), ("fichier", "XML mal formé")),
    "xml-truncated": (
        "ElevesSansAdresses.xml",
        eleves_xml(PUPILS)[:-300],
        ("fichier", "XML mal formé"),
    ),
    "xml-entities": (
        "ElevesSansAdresses.xml",
        _hostile(LAUGHS, "&lol9;"),
        ("fichier", "contenu XML refusé pour raison de sécurité (DTDForbidden)"),
    ),
    "xml-external-entity": (
        "ElevesSansAdresses.xml",
        _hostile(XXE, "&x;"),
        ("fichier", "contenu XML refusé pour raison de sécurité (DTDForbidden)"),
    ),
    "xml-dtd-only": (
        "ElevesSansAdresses.xml",
        eleves_xml([COEUR]).replace(
            b"<BEE_ELEVES",
            b'<!DOCTYPE BEE_ELEVES SYSTEM "http://example.invalid/x.dtd">\n<BEE_ELEVES',
            1,
        ),
        ("fichier", "contenu XML refusé pour raison de sécurité"),
    ),
    "xml-deep-nesting": (
        "ElevesSansAdresses.xml",
        b'<?xml version="1.0"?><BEE_ELEVES>'
        + b"<X>" * 100_000
        + b"</X>" * 100_000
        + b"</BEE_ELEVES>",
        ("fichier", "XML trop imbriqué (plus de 32 niveaux)"),
    ),
    "xml-fat-pupil": (
        "ElevesSansAdresses.xml",
        eleves_xml([COEUR]).replace(b"<PRENOM>", b"<X/>" * 5000 + b"<PRENOM>"),
        ("ELEVE", "plus de 1000 éléments dans un ELEVE"),
    ),
    "csv-field-over-128k": (
        "eleves.csv",
        CSV_HEADER + b"4001;1234567890A;" + b"C" * 200_000 + b";Zo\xc3\xa9;14/03/2011;3A\r\n",
        ("ligne 2", "champ trop long (plus de 131072 caractères)"),
    ),
    "csv-huge-line": (
        "eleves.csv",
        CSV_HEADER + b"x" * 3_000_000 + b"\r\n",
        ("ligne 2", "champ trop long (plus de 131072 caractères)"),
    ),
    "csv-huge-header": (
        "eleves.csv",
        b"id_eleve" * 400_000,
        ("ligne 1", "champ trop long (plus de 131072 caractères)"),
    ),
    "csv-bom-only": ("eleves.csv", b"\xef\xbb\xbf", ("fichier", "fichier vide")),
    "csv-garbage": (
        "eleves.csv",
        _garbage(),
        ("fichier", "encodage non reconnu (UTF-8 ou Windows-1252 attendu)"),
    ),
    "csv-utf16": (
        "eleves.csv",
        csv_bytes([csv_row(COEUR)]).decode("utf-8").encode("utf-16"),
        ("fichier", "encodage non reconnu (UTF-8 ou Windows-1252 attendu)"),
    ),
    "csv-nul-byte": (
        "eleves.csv",
        csv_bytes([csv_row(COEUR, nom="Cœur\x00")]),
        ("fichier", "encodage non reconnu (UTF-8 ou Windows-1252 attendu)"),
    ),
}


@pytest.fixture
def imports_dir(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path
    settings.EDUCOMPTE_IMPORT_IN_BACKGROUND = False
    return tmp_path / "imports"


@pytest.fixture
def head_client(quick_head, imports_dir):
    return verified(quick_head)


@pytest.fixture
def imported(college):
    import_xml(college)
    return college


def state() -> dict:
    """Everything an import could change, classes included."""
    return {**snapshot(), "divisions": sorted(Division.objects.values_list("code", flat=True))}


def _single_problem(rows_or_problems, ref: str, reason: str) -> None:
    assert len(rows_or_problems) == 1, rows_or_problems
    got_ref, got_reason = rows_or_problems[0]
    assert got_ref == ref
    assert reason in got_reason


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_through_the_web_upload(head_client, imported, imports_dir, case):
    name, data, (ref, reason) = HOSTILE[case]
    before = state()

    response = upload(head_client, data, name)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert job.status == ImportJob.Status.REFUSED
    assert stored_files(imports_dir) == []
    assert job.stored_path == ""
    shown = head_client.get(job_url(job))
    assert shown.status_code == 200
    text = page(shown)
    assert "Import refusé : aucune donnée n'a été modifiée" in text
    _single_problem(problem_rows(text), ref, reason)
    assert "Confirmer l'import" not in text
    assert head_client.post(confirm_url(job), {"confirm": "1"}).status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert state() == before


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_through_the_command_line(imported, tmp_path, case):
    name, data, (ref, reason) = HOSTILE[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = state()

    with pytest.raises(CommandError) as caught:
        run_cli(path, uai=UAI)

    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == f"{path}: import refused, nothing was written (1 problem(s)):"
    assert lines[1].startswith(f"  {ref}: ")
    assert reason in lines[1]
    assert len(lines) == 2
    assert state() == before


def test_hostile_nomenclature_is_refused(head_client, imported, imports_dir):
    before = state()
    response = upload(
        head_client,
        eleves_xml(PUPILS),
        nomenclature=SimpleUploadedFile("Nomenclature.xml", _declared("UTF-7")),
    )
    job = ImportJob.objects.get()
    assert response["Location"] == job_url(job)
    assert job.status == ImportJob.Status.REFUSED
    _single_problem(
        [(p["ref"], p["reason"]) for p in job.problems],
        "nomenclature",
        "encodage « UTF-7 » non pris en charge",
    )
    assert stored_files(imports_dir) == []
    assert state() == before


def test_empty_upload_is_refused_by_the_form(head_client, imported, imports_dir):
    before = state()
    response = upload(head_client, b"", "ElevesSansAdresses.xml")
    assert response.status_code == 400
    assert "Le fichier soumis est vide." in page(response)
    assert not ImportJob.objects.exists()
    assert stored_files(imports_dir) == []
    assert state() == before


@pytest.mark.parametrize("name", ["ElevesSansAdresses.xml", "eleves.csv"])
def test_empty_file_through_the_command_line(imported, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(CommandError) as caught:
        run_cli(path, uai=UAI)
    assert str(caught.value).splitlines()[1] == "  fichier: fichier vide"


def test_supported_encodings_still_import(college):
    """The refusals above leave what SIECLE and spreadsheets write alone."""
    for encoding, last in (
        ("ISO-8859-15", "Lebœuf"),
        ("windows-1252", "Lebœuf"),
        ("UTF-8", "Lebœuf"),
        ("ISO-8859-1", "Hérouville"),
        ("US-ASCII", "Dupont"),
    ):
        data = eleves_xml([pupil("4100", None, last, "Leo")], encoding=encoding)
        source = open_source(data, "ElevesSansAdresses.xml")
        assert source.validate(UAI) == 1, encoding
        assert next(source.records()).last_name == last


def test_elements_outside_the_pupils_do_not_pile_up_in_memory(college):
    """Unknown elements are read and forgotten: 80,000 of them cost no more memory than
    a few (they were kept until the end of the file)."""
    padding = "<X><Y/></X>" * 40_000
    data = eleves_text([COEUR]).replace("<DONNEES>", "<DONNEES>" + padding).encode("iso-8859-15")
    tracemalloc.start()
    try:
        source = open_source(data, "ElevesSansAdresses.xml")
        assert source.validate(UAI) == 1
        assert [r.registry_id for r in source.records()] == [COEUR["id"]]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
    assert peak < 3_000_000  # 9 MB when they were kept


# --- Whatever goes wrong, the upload is deleted ---------------------------------------------


def test_unexpected_error_in_the_preview_is_a_refusal(
    head_client, imported, imports_dir, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "run_import", broken)
    before = state()

    response = upload(head_client, eleves_xml(PUPILS))

    job = ImportJob.objects.get()
    assert response["Location"] == job_url(job)
    assert job.status == ImportJob.Status.REFUSED
    text = page(head_client.get(job_url(job)))
    assert problem_rows(text) == [["import", jobs.UNEXPECTED]]
    assert "boom" not in text
    assert stored_files(imports_dir) == []
    assert state() == before


def test_unexpected_error_when_confirming_deletes_the_file(
    head_client, imported, imports_dir, monkeypatch
):
    before = state()
    upload(head_client, eleves_xml([COEUR, NEWCOMER]))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PREVIEWED
    assert len(stored_files(imports_dir)) == 1

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "run_import", broken)
    response = head_client.post(confirm_url(job), {"confirm": "1"})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.problem_count == 1
    text = page(head_client.get(job_url(job)))
    assert problem_rows(text) == [["import", jobs.UNEXPECTED]]
    assert stored_files(imports_dir) == []
    assert state() == before


def test_file_changed_before_confirming_is_refused_and_deleted(head_client, imported, imports_dir):
    before = state()
    upload(head_client, eleves_xml([COEUR, NEWCOMER]))
    job = ImportJob.objects.get()
    Path(job.stored_path).write_bytes(_declared("UTF-7"))

    head_client.post(confirm_url(job), {"confirm": "1"})

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "encodage « UTF-7 » non pris en charge" in job.problems[0]["reason"]
    assert stored_files(imports_dir) == []
    assert state() == before


def test_interrupted_upload_leaves_no_partial_file(quick_head, college, imports_dir):
    class Interrupted(SimpleUploadedFile):
        def chunks(self, chunk_size=None):
            yield b"<?xml version='1.0'?>"
            raise OSError("connection reset")

    job = jobs.start(
        quick_head, college, Interrupted("ElevesSansAdresses.xml", b""), None, complete=True
    )

    assert job.status == ImportJob.Status.REFUSED
    assert stored_files(imports_dir) == []


def test_a_job_left_running_by_a_dead_process_is_cleaned_up(head_client, imported, imports_dir):
    upload(head_client, eleves_xml([COEUR]))
    job = ImportJob.objects.get()
    # The process running the import died: the job stays "running" with its file.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    assert jobs.discard_stale() == 0  # not yet
    ImportJob.objects.filter(pk=job.pk).update(
        updated_at=job.updated_at - datetime.timedelta(days=2)
    )

    assert jobs.discard_stale() == 1

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert stored_files(imports_dir) == []


def test_uploads_of_a_killed_preview_are_deleted_later(head_client, imported, imports_dir):
    """A preview killed before its job was saved (out of memory…) leaves a file no job
    names: swept once as old as a stale preview; live jobs' files are kept."""
    upload(head_client, eleves_xml([COEUR]))
    live = Path(ImportJob.objects.get().stored_path)
    orphan, fresh = imports_dir / "orphan.xml", imports_dir / "being-written.xml"
    orphan.write_bytes(b"<BEE_ELEVES/>")
    fresh.write_bytes(b"<BEE_ELEVES/>")
    two_days_ago = (datetime.datetime.now() - datetime.timedelta(days=2)).timestamp()
    for path in (orphan, live):
        os.utime(path, (two_days_ago, two_days_ago))

    jobs.discard_stale()

    assert stored_files(imports_dir) == sorted([fresh, live])


# --- Class codes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["3A", "6 B", "TS1", "2NDE-3", "1ère G2", "T.STMG 1", "3°A", "6\u00a0B", "Œ(2)/b"]
)
def test_real_class_codes_are_accepted(code):
    assert class_code_problem(code) is None


HOSTILE_CODES = {
    "line-break": (
        "3A\nContent-Disposition: x",
        "code de classe « 3A\\x0aContent-Disposition: x » invalide",
    ),
    "carriage-return": ("3A\rB", "code de classe « 3A\\x0dB » invalide"),
    "bidi-override": ("3A\u202efdp.exe", "code de classe « 3A\\u202efdp.exe » invalide"),
    "zero-width": ("3\u200bA", "code de classe « 3\\u200bA » invalide"),
    "too-long": ("3" * 65, "code de classe trop long (64 caractères au plus)"),
}


# XML reads a carriage return as a line break: that case is the CSV's.
@pytest.mark.parametrize("case", [c for c in HOSTILE_CODES if c != "carriage-return"])
def test_hostile_class_code_in_a_siecle_file(head_client, imported, imports_dir, case):
    code, reason = HOSTILE_CODES[case]
    before = state()
    data = eleves_xml([COEUR, {**NEWCOMER, "division": code}], encoding="UTF-8")

    upload(head_client, data)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    rows = problem_rows(page(head_client.get(job_url(job))))
    assert rows == [[f"STRUCTURES_ELEVE (ELEVE_ID={NEWCOMER['id']})", rows[0][1]]]
    assert reason in rows[0][1]
    assert stored_files(imports_dir) == []
    assert state() == before


@pytest.mark.parametrize("case", list(HOSTILE_CODES))
def test_hostile_class_code_in_a_csv_file(head_client, imported, imports_dir, case):
    code, reason = HOSTILE_CODES[case]
    before = state()
    data = csv_bytes([csv_row(COEUR), csv_row(NEWCOMER, classe=code)])

    upload(head_client, data, "eleves.csv")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    rows = problem_rows(page(head_client.get(job_url(job))))
    # The line where the record ends: a quoted line break makes it two lines.
    assert len(rows) == 1 and rows[0][0] == f"ligne {2 + len(code.splitlines())}"
    assert reason in rows[0][1]
    assert stored_files(imports_dir) == []
    assert state() == before


def test_hostile_class_code_through_the_command_line(imported, tmp_path):
    path = tmp_path / "eleves.csv"
    path.write_bytes(csv_bytes([csv_row(COEUR, classe="3A\x07")]))
    before = state()
    with pytest.raises(CommandError) as caught:
        run_cli(path, uai=UAI)
    assert (
        "  ligne 2: code de classe « 3A\\x07 » invalide : caractère de contrôle ou invisible "
        "interdit" in str(caught.value)
    )
    assert state() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nom", "Cœur\x1b[2J"),
        ("prenom", "Zo\u202eé"),
        ("id_eleve", "40\t01"),
        ("libelle_mef", "3E\x7fME"),
    ],
)
def test_control_characters_in_other_fields_are_refused(college, field, value):
    data = csv_bytes([csv_row(COEUR, **{field: value})])
    with pytest.raises(BadFile) as caught:
        import_csv(college, data)
    [problem] = caught.value.problems
    assert problem.ref == "ligne 2"
    assert "caractère de contrôle ou invisible interdit" in problem.reason
    assert not Division.objects.exists()


def test_hostile_mef_label_in_the_nomenclature_is_refused(college):
    with pytest.raises(BadFile) as caught:
        read_nomenclature(nomenclature_xml({"10310019110": "3EME&#x202E;"}).replace(b"&amp;", b"&"))
    assert caught.value.problems[0].ref == "nomenclature"
    assert "caractère de contrôle ou invisible interdit" in caught.value.problems[0].reason


def test_long_values_are_cut_in_the_report(college):
    """A problem quotes at most 40 characters of the value: a 100 KB date is not copied
    200 times into the job's report."""
    data = csv_bytes([csv_row(COEUR, date_naissance="9" * 100_000)])
    with pytest.raises(BadFile) as caught:
        import_csv(college, data)
    reason = caught.value.problems[0].reason
    assert reason == f"date de naissance « {'9' * 40}… » invalide (jj/mm/aaaa attendu)"
