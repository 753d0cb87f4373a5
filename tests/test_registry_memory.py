"""The registry import keeps on disk what grows with the number of pupils (ids and INEs
already read, each pupil's class, the pupils found in the database): its memory must not
grow with the file, and its reports must stay what they were with sets and dicts."""

from __future__ import annotations

import gc
import io
import sqlite3
import tracemalloc

import pytest

from educompte.accounts import authz
from educompte.pupils.models import AccountState, StudentAccount
from educompte.registry import parsers
from educompte.registry.parsers import BadFile, CsvPupils, SieclePupils, open_source
from educompte.registry.scratch import Scratch
from educompte.registry.services import run_import
from tests.test_registry import (
    COEUR,
    COLLEGE_UAI,
    HEROUVILLE,
    LEBOEUF,
    MEFS,
    PUPILS,
    accounts_by_registry_id,
    counts,
    csv_bytes,
    csv_row,
    eleves_text,
    eleves_xml,
    pupil,
    snapshot,
)


def many(count: int, start: int = 0) -> list[dict]:
    return [
        pupil(str(100000 + i), f"{i:010d}A", "Dupont", "Léo", division=f"3{i % 7}")
        for i in range(start, start + count)
    ]


# --- The scratch database -----------------------------------------------------------------


def test_disk_set_says_whether_a_key_is_new():
    with Scratch() as scratch:
        ids, numbers = scratch.set(), scratch.set("INTEGER")
        assert ids.add("4001") is True
        assert ids.add("4001") is False
        assert "4001" in ids and "4002" not in ids
        ids.update(["4002", "4001", "4003"])
        assert "4003" in ids and ids.add("4002") is False
        numbers.update(range(5))
        assert numbers.add(3) is False and numbers.add(7) is True
        assert 4 in numbers and "4" not in ids


def test_disk_map_keeps_the_last_value_and_sequence_its_order():
    with Scratch() as scratch:
        classes = scratch.map()
        classes["4001"] = "3A"
        classes["4001"] = "3B"
        assert classes.get("4001") == "3B"
        assert classes.get("4002") == "" and classes.get("4002", "?") == "?"
        absent = scratch.sequence()
        for value in [9, 3, 7, 3, 1]:
            absent.append(value)
        assert len(absent) == 5
        assert list(absent.chunks(2)) == [[9, 3], [7, 3], [1]]


def test_scratch_is_gone_once_closed():
    scratch = Scratch()
    seen = scratch.set()
    seen.add("x")
    scratch.close()
    scratch.close()  # twice is harmless
    with pytest.raises(sqlite3.ProgrammingError):
        seen.add("y")
    with pytest.raises(RuntimeError):
        scratch.set()


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


def test_dry_run_and_partial_with_the_absent_pupils_on_disk(college):
    run_import(authz.OPERATOR, college, SieclePupils(eleves_xml(PUPILS)))
    fewer = SieclePupils(eleves_xml(PUPILS[:2]))
    before = snapshot()
    report = run_import(authz.OPERATOR, college, fewer, dry_run=True)
    assert counts(report) == (0, 0, 4, 2)
    assert snapshot() == before
    first_two = eleves_xml(PUPILS[:2])
    partial = run_import(authz.OPERATOR, college, SieclePupils(first_two), complete=False)
    assert counts(partial) == (0, 0, 0, 2)
    assert counts(run_import(authz.OPERATOR, college, SieclePupils(first_two))) == (0, 0, 4, 2)
    states = {rid: a.state for rid, a in accounts_by_registry_id().items()}
    deactivated = sorted(rid for rid, state in states.items() if state == AccountState.DEACTIVATED)
    assert deactivated == ["4003", "4004", "4005", "4006"]
    assert StudentAccount.objects.count() == 6


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
