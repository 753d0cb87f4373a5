"""educompte.registry.parsers: SIECLE and CSV files read strictly, every problem reported
with its element or line, in a memory that does not grow with the file."""

from __future__ import annotations

import datetime
import gc
import io
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from educompte.accounts import authz
from educompte.pupils.models import AccountState, Student
from educompte.registry import parsers
from educompte.registry.parsers import (
    CSV_COLUMNS,
    BadFile,
    CsvPupils,
    SieclePupils,
    _date,
    open_source,
    read_nomenclature,
)
from educompte.registry.services import run_import
from educompte.schools.models import Mef
from tests.registry_helpers import (
    CHANGED,
    COEUR,
    COLLEGE_UAI,
    GOOD_FIRST,
    HEROUVILLE,
    LAUGHS,
    LEBOEUF,
    LYCEE_UAI,
    MEF_3,
    MEF_4,
    MEFS,
    NEWCOMER,
    PUPILS,
    XXE,
    _hostile,
    accounts_by_registry_id,
    counts,
    csv_bytes,
    csv_row,
    eleves_text,
    eleves_xml,
    import_csv,
    import_xml,
    nomenclature_xml,
    pupil,
    run_cli,
    snapshot,
)


def test_registry_dates_read_fast_and_strictly():
    assert _date("14/03/2011") == datetime.date(2011, 3, 14)
    assert _date("2011-03-14") == datetime.date(2011, 3, 14)
    assert _date(" ") is None
    for bad in ("31/02/2011", "1a/03/2011", "14/+3/2011"):
        with pytest.raises(ValueError):
            _date(bad)


@pytest.mark.django_db
def test_nomenclature_label_falls_back_to_libelle_long():
    data = (
        '<?xml version="1.0" encoding="ISO-8859-15"?><BEE_NOMENCLATURES><DONNEES><MEFS>'
        '<MEF CODE_MEF="10310019110"><LIBELLE_LONG>3ÈME BILANGUE</LIBELLE_LONG></MEF>'
        '<MEF CODE_MEF="10210001110"><FORMATION>4EME</FORMATION></MEF>'
        "</MEFS></DONNEES></BEE_NOMENCLATURES>"
    ).encode("iso-8859-15")
    assert read_nomenclature(data) == {MEF_3: "3ÈME BILANGUE", MEF_4: "4EME"}


# --- Files refused as a whole ----------------------------------------------------------


PASSWD = Path("/etc/passwd").read_text().splitlines()[0]


def _bad(*pupils: dict) -> bytes:
    return eleves_xml(GOOD_FIRST + list(pupils))


BAD_XML = {
    "wrong-establishment": (
        eleves_xml(GOOD_FIRST, uai=LYCEE_UAI),
        "PARAMETRES/UAJ",
        f"le fichier est celui de l'établissement {LYCEE_UAI}, pas de {COLLEGE_UAI}",
    ),
    "truncated": (eleves_xml(GOOD_FIRST + PUPILS)[:-200], "fichier", "XML mal formé"),
    "billion-laughs": (_hostile(LAUGHS, "&lol9;"), "fichier", "raison de sécurité"),
    "external-entity": (_hostile(XXE, "&x;"), "fichier", "raison de sécurité"),
    "unknown-encoding": (
        eleves_text(GOOD_FIRST, encoding="X-UNKNOWN").encode("iso-8859-15"),
        "fichier",
        "encodage inconnu",
    ),
    "duplicate-ine": (
        _bad(pupil("4998", COEUR["ine"], "Dupont", "Léo")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        f"INE {COEUR['ine']} en double",
    ),
    "missing-name": (
        _bad(pupil("4998", "9934567890Z", None, "Léo")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "nom de famille manquant",
    ),
    "missing-first-name": (
        _bad(pupil("4998", "9934567890Z", "Dupont", None)),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "prénom manquant",
    ),
    "missing-birth-date": (
        _bad(pupil("4998", "9934567890Z", "Dupont", "Léo", birth=None)),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "date de naissance manquante",
    ),
    "invalid-birth-date": (
        _bad(pupil("4998", "9934567890Z", "Dupont", "Léo", birth="31/02/2011")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "date de naissance « 31/02/2011 » invalide",
    ),
    "not-bee-eleves": (b"<FOO/>", "élément racine FOO", "BEE_ELEVES attendu"),
    "nomenclature-as-pupils": (
        nomenclature_xml(),
        "élément racine BEE_NOMENCLATURES",
        "ce n'est pas un export SIECLE ElevesSansAdresses",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["service", "command"])
@pytest.mark.parametrize("case", list(BAD_XML))
def test_bad_siecle_file_is_refused_and_nothing_changes(imported, tmp_path, case, via):
    data, ref, reason = BAD_XML[case]
    before = snapshot()

    if via == "service":
        with pytest.raises(BadFile) as caught:
            run_import(authz.OPERATOR, imported, SieclePupils(data, MEFS))
        problems = caught.value.problems
        assert caught.value.total == len(problems) == 1
        assert problems[0].ref == ref
        assert reason in problems[0].reason
        message = str(caught.value)
    else:
        path = tmp_path / "ElevesSansAdresses.xml"
        path.write_bytes(data)
        with pytest.raises(CommandError) as caught:
            run_cli(path, uai=COLLEGE_UAI)
        message = str(caught.value)
        assert message.startswith(f"{path}: import refused, nothing was written (1 problem(s)):")
        assert f"  {ref}: " in message
        assert reason in message

    assert snapshot() == before
    assert PASSWD not in message
    assert not Student.objects.filter(last_name__contains="root:").exists()


@pytest.mark.django_db
def test_missing_uaj_is_refused(imported):
    data = eleves_text(GOOD_FIRST).replace("<UAJ>0380001V</UAJ>", "")
    before = snapshot()
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, imported, SieclePupils(data.encode("iso-8859-15")))
    assert caught.value.problems[0].ref == "PARAMETRES/UAJ"
    assert snapshot() == before


@pytest.mark.django_db
def test_every_problem_is_reported_with_its_element(imported):
    data = _bad(
        pupil("4997", "BAD", "Dupont", "Léo"),
        pupil("4996", "9934567890Z", None, None, birth="2011-13-45"),
    )
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, imported, SieclePupils(data))
    assert [str(p) for p in caught.value.problems] == [
        "ELEVE n°4 (ELEVE_ID=4997) : INE « BAD » invalide (11 caractères attendus)",
        "ELEVE n°5 (ELEVE_ID=4996) : nom de famille manquant",
        "ELEVE n°5 (ELEVE_ID=4996) : prénom manquant",
        "ELEVE n°5 (ELEVE_ID=4996) : date de naissance « 2011-13-45 » invalide "
        "(jj/mm/aaaa attendu)",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options",
    [
        {"encoding": "cp1252"},
        {"encoding": "utf-8", "bom": True},
        {"encoding": "utf-8", "sep": ","},
    ],
    ids=["windows-1252", "utf-8-bom", "comma"],
)
def test_csv_import(college, options):
    rows = [csv_row(p) for p in PUPILS]
    for row in rows:
        if row["code_mef"] == MEF_3:
            row["libelle_mef"] = "3EME, BILANGUE"  # quoted: holds the separator
    data = csv_bytes(rows, **options)
    if options["encoding"] == "cp1252":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really Windows-1252 bytes (œ is 0x9C)

    report = import_csv(college, data)

    assert counts(report) == (6, 0, 0, 0)
    accounts = accounts_by_registry_id()
    assert {(a.student.last_name, a.student.first_name) for a in accounts.values()} == {
        ("Cœur", "Zoé"),
        ("Lebœuf", "Anaïs"),
        ("N'Diaye", "Moussa"),
        ("Lefèvre-Martin", "Jean-Noël"),
        ("Œuvrard", "Lætitia"),
        ("D'Hérouville", "Éloïse"),
    }
    assert accounts["4001"].student.division.code == "3A"
    assert Mef.objects.get(code=MEF_3).label == "3EME, BILANGUE"
    assert Mef.objects.get(code=MEF_4).label == "4EME"
    assert all(a.state == AccountState.NOT_INFORMED for a in accounts.values())
    # The same rows in SIECLE format change nothing (labels are not renamed).
    assert counts(import_xml(college)) == (0, 0, 0, 6)


@pytest.mark.django_db
def test_csv_and_xml_of_the_same_pupils_match(college):
    import_csv(college, csv_bytes([csv_row(p) for p in PUPILS], encoding="cp1252"))
    assert counts(import_csv(college, csv_bytes([csv_row(p) for p in CHANGED]))) == (1, 3, 2, 1)


@pytest.mark.django_db
def test_csv_missing_required_column(imported):
    columns = [c for c in CSV_COLUMNS if c != "prenom"]
    data = csv_bytes([csv_row(p) for p in PUPILS], columns=columns)
    before = snapshot()
    with pytest.raises(BadFile) as caught:
        import_csv(imported, data)
    (problem,) = caught.value.problems
    assert problem.ref == "ligne 1"
    assert problem.reason.startswith("colonnes manquantes : prenom")
    assert snapshot() == before


@pytest.mark.django_db
def test_csv_bad_date_is_reported_with_its_line(imported, tmp_path):
    rows = [
        csv_row({**COEUR, "last": "Cœur de Lion"}),
        csv_row(pupil("4998", "9934567890Z", "Dupont", "Léo", birth="31/02/2011")),
        csv_row(NEWCOMER),
    ]
    data = csv_bytes(rows, encoding="cp1252")
    before = snapshot()

    with pytest.raises(BadFile) as caught:
        import_csv(imported, data)
    path = tmp_path / "eleves.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError) as cli:
        run_cli(path, uai=COLLEGE_UAI)

    (problem,) = caught.value.problems
    assert problem.ref == "ligne 3"
    assert problem.reason == "date de naissance « 31/02/2011 » invalide (jj/mm/aaaa attendu)"
    assert "  ligne 3: date de naissance « 31/02/2011 » invalide" in str(cli.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_csv_in_an_unknown_format_is_refused(college):
    with pytest.raises(BadFile) as caught:
        open_source(b"whatever", "eleves.xlsx")
    assert "format non reconnu" in caught.value.problems[0].reason
    assert isinstance(open_source(b"id_eleve;nom\n", "ELEVES.TXT"), CsvPupils)


@pytest.mark.django_db
def test_csv_long_class_code_can_be_imported_twice(college):
    """A spreadsheet's class name longer than the column (30 characters)."""
    row = csv_row(COEUR, classe="3A - Section européenne anglais")  # 31 characters
    data = csv_bytes([row])
    assert counts(import_csv(college, data)) == (1, 0, 0, 0)

    assert counts(import_csv(college, data)) == (0, 0, 0, 1)


@pytest.mark.django_db
def test_csv_too_long_registry_id_is_refused(college):
    """Pupils without an INE are matched on id_eleve: one longer than the column could be
    stored truncated and never matched again, so the file is refused with a clear reason."""
    row = csv_row(HEROUVILLE, id_eleve="ENT-" + "0123456789" * 3)  # 34 characters
    data = csv_bytes([row])
    with pytest.raises(BadFile) as exc:
        import_csv(college, data)
    assert "ligne 2" in exc.value.problems[0].ref
    assert "trop long" in exc.value.problems[0].reason
    assert Student.objects.count() == 0

    ok = csv_bytes([csv_row(HEROUVILLE, id_eleve="ENT-" + "0123456789" * 2)])
    assert counts(import_csv(college, ok)) == (1, 0, 0, 0)
    assert counts(import_csv(college, ok)) == (0, 0, 0, 1)
    assert Student.objects.count() == 1


def many(count: int, start: int = 0) -> list[dict]:
    return [
        pupil(str(100000 + i), f"{i:010d}A", "Dupont", "Léo", division=f"3{i % 7}")
        for i in range(start, start + count)
    ]


# --- Same reports -------------------------------------------------------------------------


def test_duplicates_far_apart_are_reported_with_their_element(college):
    pupils = many(3000)
    pupils.append(pupil("100005", "9934567890Z", "Martin", "Léa"))  # id of n°6
    pupils.append(pupil("4998", f"{12:010d}A", "Martin", "Léa"))  # INE of n°13
    too_long = "ENT-" + "0123456789" * 3
    pupils += [pupil(too_long, None, "Long", "Id")] * 2  # too long, not "en double"
    pupils += [pupil(f"49{i}", "BAD", "Faux", "Ine") for i in range(2)]
    before = snapshot()
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, college, SieclePupils(eleves_xml(pupils)))
    assert [str(p) for p in caught.value.problems] == [
        "ELEVE n°3001 (ELEVE_ID=100005) : identifiant d'élève 100005 en double",
        "ELEVE n°3002 (ELEVE_ID=4998) : INE 0000000012A en double",
        f"ELEVE n°3003 (ELEVE_ID={too_long}) : identifiant d'élève trop long "
        "(32 caractères au plus)",
        f"ELEVE n°3004 (ELEVE_ID={too_long}) : identifiant d'élève trop long "
        "(32 caractères au plus)",
        "ELEVE n°3005 (ELEVE_ID=490) : INE « BAD » invalide (11 caractères attendus)",
        "ELEVE n°3006 (ELEVE_ID=491) : INE « BAD » invalide (11 caractères attendus)",
    ]
    assert snapshot() == before


def test_csv_duplicates_are_reported_with_their_line(college):
    rows = [csv_row(p) for p in PUPILS]
    rows.append(csv_row(pupil("4001", "9934567890Z", "Martin", "Léa")))
    rows.append(csv_row(pupil("4999", COEUR["ine"], "Martin", "Léa")))
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, college, open_source(csv_bytes(rows), "eleves.csv"))
    assert [str(p) for p in caught.value.problems] == [
        "ligne 8 : identifiant d'élève 4001 en double",
        f"ligne 9 : INE {COEUR['ine']} en double",
    ]


def test_class_is_the_last_division_listed_for_the_pupil(college):
    text = eleves_text([COEUR, LEBOEUF, HEROUVILLE])
    # A second STRUCTURES_ELEVE for Lebœuf, and one for a pupil the file does not list.
    extra = (
        '<STRUCTURES_ELEVE ELEVE_ID="4002"><STRUCTURE><CODE_STRUCTURE>3Z</CODE_STRUCTURE>'
        "<TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE>\n"
        '<STRUCTURES_ELEVE ELEVE_ID="9999"><STRUCTURE><CODE_STRUCTURE>6A</CODE_STRUCTURE>'
        "<TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE>\n"
    )
    text = text.replace("    </STRUCTURES>", extra + "    </STRUCTURES>")
    source = SieclePupils(text.encode("iso-8859-15"), MEFS)

    assert counts(run_import(authz.OPERATOR, college, source)) == (3, 0, 0, 0)

    classes = {rid: a.student.division.code for rid, a in accounts_by_registry_id().items()}
    assert classes == {"4001": "3A", "4002": "3Z", "4006": "3B"}
    assert source._scratch is None  # closed by run_import: the temporary file is gone


def test_source_is_closed_when_refused_and_can_be_validated_again():
    source = SieclePupils(eleves_xml(PUPILS))
    with pytest.raises(BadFile):
        source.validate("0380099X")
    assert source._scratch is None
    assert source.validate(COLLEGE_UAI) == 6
    assert {r.registry_id: r.division_code for r in source.records()}["4003"] == "3B"
    source.close()
    with pytest.raises(sqlite3.ProgrammingError):  # not silently without classes
        next(source.records())


# --- CSV read as a stream -----------------------------------------------------------------


def test_csv_encoding_is_checked_over_the_whole_file(monkeypatch):
    monkeypatch.setattr(parsers, "_CHUNK", 5)  # multi-byte characters across chunks
    rows = [csv_row(p) for p in PUPILS]
    assert CsvPupils(csv_bytes(rows)).encoding == "utf-8"
    assert CsvPupils(csv_bytes(rows, bom=True)).encoding == "utf-8-sig"
    # One Windows-1252 byte near the end makes the whole file Windows-1252.
    late = csv_bytes(rows) + "4999;;Lebœuf;Noé;02/07/2011\r\n".encode("cp1252")
    source = CsvPupils(late)
    assert source.encoding == "cp1252"
    assert source.validate(COLLEGE_UAI) == 7
    assert [r.last_name for r in source.records()][-1] == "Lebœuf"
    with pytest.raises(BadFile) as caught:
        CsvPupils(csv_bytes(rows) + b"\x81\xff")
    assert "encodage non reconnu" in caught.value.problems[0].reason


def test_csv_from_an_open_file_is_read_again_and_left_open():
    fh = io.BytesIO(csv_bytes([csv_row(p) for p in PUPILS], sep=","))
    source = open_source(fh, "eleves.csv")
    assert source.delimiter == ","
    assert source.validate(COLLEGE_UAI) == 6
    assert len(list(source.records())) == 6
    assert not fh.closed


# --- Memory -------------------------------------------------------------------------------


def _peak_of_reading(source: SieclePupils) -> int:
    """Python memory at the peak of validating then streaming the file, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        source.validate(COLLEGE_UAI)
        for _record in source.records():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        source.close()


def test_reading_a_file_takes_the_same_memory_whatever_its_size():
    small = SieclePupils(eleves_xml(many(500)), MEFS)
    large = SieclePupils(eleves_xml(many(10000)), MEFS)
    _peak_of_reading(SieclePupils(eleves_xml(many(50)), MEFS))  # first-use imports and caches
    growth = _peak_of_reading(large) - _peak_of_reading(small)
    # Sets and dicts of ids, INEs and classes took about 300 bytes a pupil: 2.8 MB here.
    assert growth < 300_000, f"{growth} bytes more for 9 500 more pupils"
