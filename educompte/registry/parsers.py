"""Readers of registry exports: SIECLE ``ElevesSansAdresses.xml``, the SIECLE nomenclature
export (MEF labels) and Educompte's documented CSV.

Parsing is streaming (``iterparse``, elements cleared as soon as read) and goes through
defusedxml, which refuses DTDs with entities and external references: a hostile file
cannot expand entities or make the server fetch anything.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

MAX_PROBLEMS = 200
# Column sizes of the database (Student.registry_id, names, Division.code).
MAX_ID, MAX_NAME, MAX_CLASS = 32, 100, 30
_INE_RE = re.compile(r"^[0-9]{9}[0-9A-Z]{2}$|^[0-9]{10}[A-Z]$")


@dataclasses.dataclass(slots=True)
class PupilRecord:
    """One pupil as read from a file; ``ref`` says where (element or line) for reports."""

    ref: str
    registry_id: str
    ine: str | None
    last_name: str
    first_name: str
    birth_date: datetime.date
    mef_code: str
    division_code: str
    left_on: datetime.date | None
    mef_label: str = ""


@dataclasses.dataclass(slots=True)
class Problem:
    ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.ref} : {self.reason}"


class BadFile(Exception):
    """The file cannot be imported; ``problems`` name each element or line and the reason."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.total = total if total is not None else len(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:5]))


def _date(text: str | None) -> datetime.date | None:
    text = (text or "").strip()
    if not text:
        return None
    if len(text) == 10 and text[2] == text[5] == "/" and text.isascii():
        # SIECLE's jj/mm/aaaa without strptime (a seventh of the time spent reading a file).
        day, month, year = text[:2], text[3:5], text[6:]
        if day.isdigit() and month.isdigit() and year.isdigit():
            try:
                return datetime.date(int(year), int(month), int(day))
            except ValueError:
                raise ValueError(text) from None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _text(element: Element | None, tag: str) -> str:
    child = element.find(tag) if element is not None else None
    return (child.text or "").strip() if child is not None and child.text else ""


class _Collector:
    """Validation shared by every format: required fields, dates, duplicate ids."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.total_problems = 0
        self.seen_ids: set[str] = set()
        self.seen_ines: set[str] = set()

    def add(self, ref: str, reason: str) -> None:
        self.total_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(ref, reason))

    def check(
        self, ref: str, registry_id: str, ine: str, last: str, first: str, birth: str, left: str
    ) -> tuple[datetime.date | None, datetime.date | None] | None:
        ok = True
        if not registry_id:
            self.add(ref, "identifiant de l'élève (ELEVE_ID) manquant")
            ok = False
        elif len(registry_id) > MAX_ID:
            self.add(ref, f"identifiant d'élève trop long ({MAX_ID} caractères au plus)")
            ok = False
        elif registry_id in self.seen_ids:
            self.add(ref, f"identifiant d'élève {registry_id} en double")
            ok = False
        for label, value in (("nom", last), ("prénom", first)):
            if len(value) > MAX_NAME:
                self.add(ref, f"{label} trop long ({MAX_NAME} caractères au plus)")
                ok = False
        self.seen_ids.add(registry_id)
        if ine:
            if not _INE_RE.match(ine):
                self.add(ref, f"INE « {ine} » invalide (11 caractères attendus)")
                ok = False
            elif ine in self.seen_ines:
                self.add(ref, f"INE {ine} en double")
                ok = False
            self.seen_ines.add(ine)
        if not last:
            self.add(ref, "nom de famille manquant")
            ok = False
        if not first:
            self.add(ref, "prénom manquant")
            ok = False
        birth_date = left_on = None
        if not birth:
            self.add(ref, "date de naissance manquante")
            ok = False
        else:
            try:
                birth_date = _date(birth)
            except ValueError:
                self.add(ref, f"date de naissance « {birth} » invalide (jj/mm/aaaa attendu)")
                ok = False
        try:
            left_on = _date(left)
        except ValueError:
            self.add(ref, f"date de sortie « {left} » invalide (jj/mm/aaaa attendu)")
            ok = False
        return (birth_date, left_on) if ok else None

    def raise_if_any(self) -> None:
        if self.total_problems:
            raise BadFile(self.problems, self.total_problems)


class RegistrySource:
    """A registry file read twice: ``validate`` checks everything and returns the number of
    pupils (nothing is written if it raises), ``records`` then streams them."""

    kind = "?"

    def validate(self, expected_uai: str) -> int:
        raise NotImplementedError

    def records(self) -> Iterator[PupilRecord]:
        raise NotImplementedError


def _open(source: str | Path | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        return open(source, "rb")  # noqa: SIM115 - closed by the caller's with-block
    source.seek(0)
    return source


def _xml_events(
    source: str | Path | bytes | BinaryIO, on_error: Callable[[str], None]
) -> Iterator[tuple[str, Element]]:
    owned = isinstance(source, str | Path)
    fh = _open(source)
    try:
        yield from iterparse(fh, events=("start", "end"))
    except DefusedXmlException as exc:
        on_error(f"contenu XML refusé pour raison de sécurité ({type(exc).__name__})")
    except LookupError as exc:
        on_error(f"encodage inconnu ({exc})")
    except ParseError as exc:
        on_error(f"XML mal formé : {exc}")
    finally:
        if owned:
            fh.close()


def _drop(el: Element, open_elements: list[Element]) -> None:
    """Forget an element once read: its content, and its place in its parent (cleared
    elements left in the tree would still cost memory in proportion to the file)."""
    el.clear()
    if open_elements:
        open_elements[-1].remove(el)


class SieclePupils(RegistrySource):
    """``ElevesSansAdresses.xml``: pupils under DONNEES/ELEVES, their classes under
    DONNEES/STRUCTURES (only TYPE_STRUCTURE D, the division, is the class)."""

    kind = "siecle"

    def __init__(
        self, source: str | Path | bytes | BinaryIO, mef_labels: dict[str, str] | None = None
    ):
        self.source = source
        self.mef_labels = mef_labels or {}
        self.divisions: dict[str, str] = {}
        self.uaj = ""

    def validate(self, expected_uai: str) -> int:
        col = _Collector()
        count = 0
        root_checked = False
        fatal: list[str] = []
        codes: dict[str, str] = {}  # one string per class code, shared by its pupils
        open_elements: list[Element] = []
        for event, el in _xml_events(self.source, fatal.append):
            if event == "start":
                open_elements.append(el)
                if not root_checked:
                    root_checked = True
                    if el.tag != "BEE_ELEVES":
                        raise BadFile(
                            [
                                Problem(
                                    f"élément racine {el.tag}",
                                    "ce n'est pas un export SIECLE ElevesSansAdresses "
                                    "(BEE_ELEVES attendu)",
                                )
                            ]
                        )
                continue
            open_elements.pop()
            if el.tag == "UAJ":
                self.uaj = (el.text or "").strip().upper()
            elif el.tag == "ELEVE":
                count += 1
                ref = f"ELEVE n°{count} (ELEVE_ID={el.get('ELEVE_ID', '?')})"
                col.check(
                    ref,
                    (el.get("ELEVE_ID") or "").strip(),
                    _text(el, "ID_NATIONAL").upper(),
                    _text(el, "NOM_USAGE") or _text(el, "NOM_DE_FAMILLE"),
                    _text(el, "PRENOM"),
                    _text(el, "DATE_NAISS"),
                    _text(el, "DATE_SORTIE"),
                )
                _drop(el, open_elements)
            elif el.tag == "STRUCTURES_ELEVE":
                eleve_id = (el.get("ELEVE_ID") or "").strip()
                for structure in el.findall("STRUCTURE"):
                    if _text(structure, "TYPE_STRUCTURE") == "D":
                        code = _text(structure, "CODE_STRUCTURE")
                        self.divisions[eleve_id] = codes.setdefault(code, code)
                _drop(el, open_elements)
        if fatal:
            raise BadFile([Problem("fichier", fatal[0])])
        if not root_checked:
            raise BadFile([Problem("fichier", "fichier vide")])
        if not self.uaj:
            raise BadFile([Problem("PARAMETRES/UAJ", "UAI de l'établissement absent du fichier")])
        if self.uaj != expected_uai.upper():
            raise BadFile(
                [
                    Problem(
                        "PARAMETRES/UAJ",
                        f"le fichier est celui de l'établissement {self.uaj}, "
                        f"pas de {expected_uai}",
                    )
                ]
            )
        col.raise_if_any()
        return count

    def records(self) -> Iterator[PupilRecord]:
        count = 0
        open_elements: list[Element] = []
        # No further than the pupils: validate() has read the classes and checked the file.
        for event, el in _xml_events(self.source, lambda msg: None):
            if event == "start":
                open_elements.append(el)
                continue
            open_elements.pop()
            if el.tag == "ELEVES":
                break
            if el.tag != "ELEVE":
                continue
            count += 1
            registry_id = (el.get("ELEVE_ID") or "").strip()
            mef_code = _text(el, "CODE_MEF")
            yield PupilRecord(
                ref=f"ELEVE n°{count} (ELEVE_ID={registry_id})",
                registry_id=registry_id,
                ine=_text(el, "ID_NATIONAL").upper() or None,
                last_name=_text(el, "NOM_USAGE") or _text(el, "NOM_DE_FAMILLE"),
                first_name=_text(el, "PRENOM"),
                birth_date=_date(_text(el, "DATE_NAISS")),
                mef_code=mef_code,
                mef_label=self.mef_labels.get(mef_code, ""),
                division_code=self.divisions.get(registry_id, "")[:MAX_CLASS],
                left_on=_date(_text(el, "DATE_SORTIE")),
            )
            _drop(el, open_elements)


def read_nomenclature(source: str | Path | bytes | BinaryIO) -> dict[str, str]:
    """MEF code -> label from the SIECLE nomenclature export (FORMATION, else LIBELLE_LONG)."""
    labels: dict[str, str] = {}
    fatal: list[str] = []
    for event, el in _xml_events(source, fatal.append):
        if event == "end" and el.tag == "MEF":
            code = (el.get("CODE_MEF") or "").strip()
            label = _text(el, "FORMATION") or _text(el, "LIBELLE_LONG")
            if code and label:
                labels[code] = label[:100]
            el.clear()
    if fatal:
        raise BadFile([Problem("nomenclature", fatal[0])])
    return labels


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "id_eleve",
    "ine",
    "nom",
    "prenom",
    "date_naissance",
    "classe",
    "code_mef",
    "libelle_mef",
    "date_sortie",
]
CSV_REQUIRED = {"id_eleve", "nom", "prenom", "date_naissance"}


def _decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 — what spreadsheets write."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


class CsvPupils(RegistrySource):
    """Educompte's CSV (documented in docs/IMPORT.md): a header line naming the columns,
    ';' or ',' separated, UTF-8 or Windows-1252."""

    kind = "csv"

    def __init__(self, source: str | Path | bytes | BinaryIO):
        with _open(source) as fh:
            raw = fh.read()
        try:
            self.text = _decode(raw)
        except UnicodeDecodeError as exc:
            raise BadFile(
                [Problem("fichier", "encodage non reconnu (UTF-8 ou Windows-1252 attendu)")]
            ) from exc
        first = self.text.split("\n", 1)[0]
        self.delimiter = ";" if first.count(";") >= first.count(",") else ","

    def _rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        reader = csv.DictReader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        reader.fieldnames = [f.strip().lower() for f in (reader.fieldnames or [])]
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}

    def validate(self, expected_uai: str) -> int:
        header = [
            h.strip().lower()
            for h in next(csv.reader(io.StringIO(self.text), delimiter=self.delimiter), [])
        ]
        missing = CSV_REQUIRED - set(header)
        if missing:
            raise BadFile(
                [
                    Problem(
                        "ligne 1",
                        "colonnes manquantes : "
                        + ", ".join(sorted(missing))
                        + f" (attendues : {';'.join(CSV_COLUMNS)})",
                    )
                ]
            )
        col = _Collector()
        count = 0
        for line, row in self._rows():
            count += 1
            col.check(
                f"ligne {line}",
                row.get("id_eleve", ""),
                row.get("ine", "").upper(),
                row.get("nom", ""),
                row.get("prenom", ""),
                row.get("date_naissance", ""),
                row.get("date_sortie", ""),
            )
        col.raise_if_any()
        return count

    def records(self) -> Iterator[PupilRecord]:
        for line, row in self._rows():
            yield PupilRecord(
                ref=f"ligne {line}",
                registry_id=row.get("id_eleve", ""),
                ine=row.get("ine", "").upper() or None,
                last_name=row.get("nom", ""),
                first_name=row.get("prenom", ""),
                birth_date=_date(row.get("date_naissance")),
                mef_code=row.get("code_mef", ""),
                mef_label=row.get("libelle_mef", ""),
                division_code=row.get("classe", "")[:MAX_CLASS],
                left_on=_date(row.get("date_sortie")),
            )


def open_source(
    source: str | Path | bytes | BinaryIO, name: str, mef_labels: dict[str, str] | None = None
) -> RegistrySource:
    """Pick the reader from the file name (``.xml`` or ``.csv``)."""
    lower = name.lower()
    if lower.endswith(".xml"):
        return SieclePupils(source, mef_labels)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return CsvPupils(source)
    raise BadFile(
        [Problem(name, "format non reconnu : un fichier .xml (SIECLE) ou .csv est attendu")]
    )
