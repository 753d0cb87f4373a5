"""Readers of registry exports: SIECLE ``ElevesSansAdresses.xml``, the SIECLE nomenclature
export (MEF labels) and Educompte's documented CSV.

Parsing is streaming (``iterparse``, elements cleared as soon as read) and goes through
defusedxml, told to refuse any DTD (hence entities and external references): a hostile
file cannot expand entities or make the server fetch anything. Only the encodings SIECLE
and spreadsheets write are read; anything else, an empty file, a CSV field over the csv
module's limit or control characters in a name or a class code are refused with a reason.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import datetime
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from django.utils.translation import gettext as _

from educompte.registry.scratch import DiskMap, Scratch

MAX_PROBLEMS = 200
# Column sizes of the database (Student.registry_id, names, Division.code).
MAX_ID, MAX_NAME, MAX_CLASS = 32, 100, 30
# A class code up to this long is cut to MAX_CLASS (spreadsheets' descriptive class names,
# "3A - Section européenne anglais"); longer is no class code and refuses the file.
MAX_CLASS_READ = 64
_INE_RE = re.compile(r"^[0-9]{9}[0-9A-Z]{2}$|^[0-9]{10}[A-Z]$")
# Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned and
# line/paragraph separator characters: never in a name or a class code, and they break
# download headers, CSV lines or what a reader sees.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _forbidden_char(value: str) -> str | None:
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return char
    return None


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted in a report: invisible characters written out, long values cut (a
    128 KB field must not be copied into every problem)."""
    cut = value[:limit]
    text = "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in _FORBIDDEN_CATEGORIES
        else c
        for c in cut
    )
    return text + ("…" if len(value) > limit else "")


def class_code_problem(code: str) -> str | None:
    """Why ``code`` (stripped) is not a class code, else None.

    A SIECLE CODE_STRUCTURE is short printable text: letters (accents included), digits,
    spaces and punctuation — ``3A``, ``6 B``, ``TS1``, ``2NDE-3``, ``1ère G2``. Refused:
    invisible or control characters (a line break, a bidi override) and anything longer
    than ``MAX_CLASS_READ`` characters."""
    if len(code) > MAX_CLASS_READ:
        return _("code de classe trop long (%(max)s caractères au plus)") % {"max": MAX_CLASS_READ}
    if _forbidden_char(code) is not None:
        return _(
            "code de classe « %(code)s » invalide : caractère de contrôle ou invisible interdit"
        ) % {"code": _shown(code)}
    return None


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
    """Validation shared by every format: required fields, dates, duplicate ids.

    The ids and INEs already read are kept on disk (``scratch``): in memory they made the
    import's peak grow with the file. ``close()`` once the file is read."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.total_problems = 0
        self._scratch = Scratch()
        self.seen_ids = self._scratch.set()
        self.seen_ines = self._scratch.set()

    def close(self) -> None:
        self._scratch.close()

    def add(self, ref: str, reason: str) -> None:
        self.total_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(ref, reason))

    def check(
        self,
        ref: str,
        registry_id: str,
        ine: str,
        last: str,
        first: str,
        birth: str,
        left: str,
        *,
        division: str = "",
        mef: tuple[str, str] = ("", ""),
    ) -> tuple[datetime.date | None, datetime.date | None] | None:
        ok = True
        for label, value in (
            (_("identifiant de l'élève"), registry_id),
            (_("nom"), last),
            (_("prénom"), first),
            (_("code MEF"), mef[0]),
            (_("libellé MEF"), mef[1]),
        ):
            if _forbidden_char(value) is not None:
                self.add(
                    ref,
                    _(
                        "%(field)s « %(value)s » invalide : caractère de contrôle ou "
                        "invisible interdit"
                    )
                    % {"field": label, "value": _shown(value)},
                )
                return None  # the other messages would quote the same bad value
        if division and (problem := class_code_problem(division)):
            self.add(ref, problem)
            ok = False
        if not registry_id:
            self.add(ref, "identifiant de l'élève (ELEVE_ID) manquant")
            ok = False
        elif len(registry_id) > MAX_ID:
            self.add(ref, f"identifiant d'élève trop long ({MAX_ID} caractères au plus)")
            ok = False
        elif not self.seen_ids.add(registry_id):  # only well-formed ids can be duplicates
            self.add(ref, f"identifiant d'élève {registry_id} en double")
            ok = False
        for label, value in (("nom", last), ("prénom", first)):
            if len(value) > MAX_NAME:
                self.add(ref, f"{label} trop long ({MAX_NAME} caractères au plus)")
                ok = False
        if ine:
            if not _INE_RE.match(ine):
                self.add(ref, f"INE « {_shown(ine)} » invalide (11 caractères attendus)")
                ok = False
            elif not self.seen_ines.add(ine):
                self.add(ref, f"INE {ine} en double")
                ok = False
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
                self.add(
                    ref, f"date de naissance « {_shown(birth)} » invalide (jj/mm/aaaa attendu)"
                )
                ok = False
        try:
            left_on = _date(left)
        except ValueError:
            self.add(ref, f"date de sortie « {_shown(left)} » invalide (jj/mm/aaaa attendu)")
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

    def close(self) -> None:
        """Drop what ``validate`` kept for ``records`` (run_import calls it at the end)."""


def _open(source: str | Path | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        return open(source, "rb")  # noqa: SIM115 - closed by the caller's with-block
    source.seek(0)
    return source


# What SIECLE writes (ISO-8859-15), UTF-8 and its subset ASCII, and the Latin-1 family that
# expat reads byte per byte. Anything else — UTF-7, UTF-16, multi-byte Asian encodings —
# is refused before parsing (expat would fail on them with an unhandled error).
# Python's codec names, whatever alias the file declares ("latin1", "windows-1252"…).
XML_ENCODINGS = frozenset({"utf-8", "ascii", "iso8859-1", "iso8859-15", "cp1252"})
_XML_DECLARATION = re.compile(rb"\A\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']{0,40})[\"']")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _unsupported_encoding(name: str | None, *, known: bool = True) -> str:
    if name is None:
        return _(
            "encodage non pris en charge (UTF-8, ISO-8859-1, ISO-8859-15 ou Windows-1252 attendu)"
        )
    if not known:
        return _(
            "encodage inconnu : « %(name)s » (UTF-8, ISO-8859-1, ISO-8859-15 ou "
            "Windows-1252 attendu)"
        ) % {"name": _shown(name)}
    return _(
        "encodage « %(name)s » non pris en charge (UTF-8, ISO-8859-1, ISO-8859-15 ou "
        "Windows-1252 attendu)"
    ) % {"name": _shown(name)}


def _is_blank(fh: BinaryIO) -> bool:
    """Nothing but a byte order mark and white space (read a chunk at a time)."""
    fh.seek(0)
    head = fh.read(len(codecs.BOM_UTF8))
    if head != codecs.BOM_UTF8:
        fh.seek(0)
    # Small reads: a real file stops at its first bytes, and a large chunk would be what
    # the import's memory peaks at.
    while chunk := fh.read(4096):
        if chunk.strip():
            fh.seek(0)
            return False
    fh.seek(0)
    return True


def _xml_prologue_problem(fh: BinaryIO) -> str | None:
    """Refuse, before expat sees it, a file that is empty or not in a supported encoding."""
    if _is_blank(fh):
        return _("fichier vide")
    head = fh.read(1024)
    fh.seek(0)
    if head.startswith(_WIDE_BOMS) or b"\x00" in head[:4]:
        return _unsupported_encoding("UTF-16/UTF-32")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    declared = _XML_DECLARATION.match(head)
    if declared:
        name = declared.group(1).decode("ascii", "replace").strip()
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            return _unsupported_encoding(name, known=False)
        if codec not in XML_ENCODINGS:
            return _unsupported_encoding(name)
    return None


def _xml_events(
    source: str | Path | bytes | BinaryIO, on_error: Callable[[str], None]
) -> Iterator[tuple[str, Element]]:
    owned = isinstance(source, str | Path)
    fh = _open(source)
    try:
        if problem := _xml_prologue_problem(fh):
            on_error(problem)
            return
        # No SIECLE export has a DTD: any is refused, not only the entities defusedxml
        # refuses by default.
        yield from iterparse(fh, events=("start", "end"), forbid_dtd=True)
    except DefusedXmlException as exc:
        on_error(f"contenu XML refusé pour raison de sécurité ({type(exc).__name__})")
    except LookupError as exc:
        on_error(f"encodage inconnu ({exc})")
    except ParseError as exc:
        on_error(f"XML mal formé : {exc}")
    except ValueError:  # pyexpat: "multi-byte encodings are not supported"
        on_error(_unsupported_encoding(None))
    finally:
        if owned:
            fh.close()


def _drop(el: Element, open_elements: list[Element]) -> None:
    """Forget an element once read: its content, and its place in its parent (cleared
    elements left in the tree would still cost memory in proportion to the file)."""
    el.clear()
    if open_elements:
        open_elements[-1].remove(el)


# SIECLE nests 6 levels deep and an ELEVE holds a few dozen elements: far more is a file
# built to exhaust memory, refused before it does.
MAX_DEPTH = 32
MAX_RECORD_ELEMENTS = 1000


def _record_events(
    source: str | Path | bytes | BinaryIO, on_error: Callable[[str], None], records: set[str]
) -> Iterator[tuple[str, Element]]:
    """``_xml_events`` keeping in memory only the record being read (an element whose tag
    is in ``records``, with its content): every other element is dropped once the caller
    has seen its end, and each record once the caller has read it. Raises ``BadFile`` on
    a file nested too deep or a record too big."""
    open_elements: list[Element] = []
    record: Element | None = None
    size = 0
    for event, el in _xml_events(source, on_error):
        if event == "start":
            open_elements.append(el)
            if len(open_elements) > MAX_DEPTH:
                raise BadFile(
                    [
                        Problem(
                            "fichier",
                            _("XML trop imbriqué (plus de %(max)s niveaux)") % {"max": MAX_DEPTH},
                        )
                    ]
                )
            if record is not None:
                size += 1
                if size > MAX_RECORD_ELEMENTS:
                    raise BadFile(
                        [
                            Problem(
                                record.tag,
                                _("plus de %(max)s éléments dans un %(tag)s")
                                % {"max": MAX_RECORD_ELEMENTS, "tag": record.tag},
                            )
                        ]
                    )
            elif el.tag in records:
                record, size = el, 0
            yield event, el
            continue
        open_elements.pop()
        yield event, el
        if record is None or el is record:
            record = None
            _drop(el, open_elements)


_SIECLE_RECORDS = {"ELEVE", "STRUCTURES_ELEVE"}


class SieclePupils(RegistrySource):
    """``ElevesSansAdresses.xml``: pupils under DONNEES/ELEVES, their classes under
    DONNEES/STRUCTURES (only TYPE_STRUCTURE D, the division, is the class)."""

    kind = "siecle"

    def __init__(
        self, source: str | Path | bytes | BinaryIO, mef_labels: dict[str, str] | None = None
    ):
        self.source = source
        self.mef_labels = mef_labels or {}
        # ELEVE_ID -> class code, read by validate() (the classes come after the pupils),
        # kept on disk until records() has used it.
        self._scratch: Scratch | None = None
        self.divisions: DiskMap | None = None
        self.uaj = ""

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    def validate(self, expected_uai: str) -> int:
        self.close()  # validated again: start afresh
        self._scratch = Scratch()
        self.divisions = self._scratch.map()
        col = _Collector()
        try:
            return self._validate(col, expected_uai)
        except BaseException:
            self.close()  # refused: records() will not be asked for
            raise
        finally:
            col.close()

    def _validate(self, col: _Collector, expected_uai: str) -> int:
        assert self.divisions is not None
        count = 0
        root_checked = False
        fatal: list[str] = []
        for event, el in _record_events(self.source, fatal.append, _SIECLE_RECORDS):
            if event == "start":
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
            if el.tag == "UAJ":
                self.uaj = (el.text or "").strip().upper()[:20]
            elif el.tag == "ELEVE":
                count += 1
                ref = f"ELEVE n°{count} (ELEVE_ID={_shown(el.get('ELEVE_ID', '?'))})"
                col.check(
                    ref,
                    (el.get("ELEVE_ID") or "").strip(),
                    _text(el, "ID_NATIONAL").upper(),
                    _text(el, "NOM_USAGE") or _text(el, "NOM_DE_FAMILLE"),
                    _text(el, "PRENOM"),
                    _text(el, "DATE_NAISS"),
                    _text(el, "DATE_SORTIE"),
                    mef=(_text(el, "CODE_MEF"), ""),
                )
            elif el.tag == "STRUCTURES_ELEVE":
                eleve_id = (el.get("ELEVE_ID") or "").strip()
                for structure in el.findall("STRUCTURE"):
                    if _text(structure, "TYPE_STRUCTURE") == "D":
                        code = _text(structure, "CODE_STRUCTURE")
                        if problem := class_code_problem(code):
                            col.add(f"STRUCTURES_ELEVE (ELEVE_ID={_shown(eleve_id)})", problem)
                        else:
                            self.divisions[eleve_id] = code
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
        divisions = self.divisions
        # No further than the pupils: validate() has read the classes and checked the file.
        for event, el in _record_events(self.source, lambda msg: None, _SIECLE_RECORDS):
            if event == "start":
                continue
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
                division_code=(
                    divisions.get(registry_id, "")[:MAX_CLASS] if divisions is not None else ""
                ),
                left_on=_date(_text(el, "DATE_SORTIE")),
            )


def read_nomenclature(source: str | Path | bytes | BinaryIO) -> dict[str, str]:
    """MEF code -> label from the SIECLE nomenclature export (FORMATION, else LIBELLE_LONG)."""
    labels: dict[str, str] = {}
    fatal: list[str] = []
    for event, el in _record_events(source, fatal.append, {"MEF"}):
        if event == "end" and el.tag == "MEF":
            code = (el.get("CODE_MEF") or "").strip()
            label = _text(el, "FORMATION") or _text(el, "LIBELLE_LONG")
            if _forbidden_char(code + label) is not None:
                fatal.append(
                    _("MEF « %(code)s » : caractère de contrôle ou invisible interdit")
                    % {"code": _shown(code)}
                )
            elif code and label:
                labels[code] = label[:100]
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


_CHUNK = 1 << 20  # bytes read at a time when checking the encoding


def _csv_encoding(fh: BinaryIO) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 — what spreadsheets write. The whole
    file is decoded a chunk at a time (never held in memory); UnicodeDecodeError if
    neither fits. A NUL byte (UTF-16, a binary file) fits neither: no text file has one."""
    with_bom = fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    error: UnicodeDecodeError | None = None
    for encoding in ("utf-8-sig",) if with_bom else ("utf-8", "cp1252"):
        fh.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := fh.read(_CHUNK):
                if b"\x00" in chunk:
                    raise UnicodeDecodeError(encoding, chunk, chunk.index(b"\x00"), 0, "NUL")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            error = exc
            continue
        return encoding
    assert error is not None
    raise error


def _csv_error(line: int, exc: csv.Error) -> BadFile:
    """The csv module's refusals, in words: a field over its limit (128 KB) is no pupil data."""
    if "field limit" in str(exc):
        reason = _(
            "champ trop long (plus de %(limit)s caractères) : ce n'est pas un fichier d'élèves"
        ) % {"limit": csv.field_size_limit()}
    else:
        reason = _("ligne CSV illisible")
    return BadFile([Problem(f"ligne {line}", reason)])


class CsvPupils(RegistrySource):
    """Educompte's CSV (documented in docs/IMPORT.md): a header line naming the columns,
    ';' or ',' separated, UTF-8 or Windows-1252.

    The file is read as a stream at each pass (encoding, validation, records) rather than
    decoded once into memory: its text would make the import's peak grow with the file."""

    kind = "csv"

    def __init__(self, source: str | Path | bytes | BinaryIO):
        self.source = source
        with self._binary() as fh:
            if _is_blank(fh):
                raise BadFile([Problem("fichier", _("fichier vide"))])
            try:
                self.encoding = _csv_encoding(fh)
            except UnicodeDecodeError as exc:
                raise BadFile(
                    [Problem("fichier", "encodage non reconnu (UTF-8 ou Windows-1252 attendu)")]
                ) from exc
        # The header is in the first chunk: a longer first line is no header (and reading
        # on until a line break would hold a file without any in memory).
        with self._text() as text:
            first = text.read(_CHUNK).split("\n", 1)[0]
        self.delimiter = ";" if first.count(";") >= first.count(",") else ","

    @contextlib.contextmanager
    def _binary(self) -> Iterator[BinaryIO]:
        """The file from its start; closed afterwards only if opened here."""
        fh = _open(self.source)
        try:
            yield fh
        finally:
            if isinstance(self.source, str | Path):
                fh.close()

    @contextlib.contextmanager
    def _text(self) -> Iterator[io.TextIOWrapper]:
        # newline="": the csv module handles line ends (and line breaks inside quotes).
        with self._binary() as fh:
            text = io.TextIOWrapper(fh, encoding=self.encoding, newline="")
            try:
                yield text
            finally:
                text.detach()  # leave the binary file to _binary()

    def _rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        with self._text() as text:
            reader = csv.DictReader(text, delimiter=self.delimiter)
            try:
                reader.fieldnames = [f.strip().lower() for f in (reader.fieldnames or [])]
                for row in reader:
                    yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}
            except csv.Error as exc:
                raise _csv_error(reader.reader.line_num, exc) from exc

    def validate(self, expected_uai: str) -> int:
        with self._text() as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                header = [h.strip().lower() for h in next(reader, [])]
            except csv.Error as exc:
                raise _csv_error(reader.line_num, exc) from exc
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
        try:
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
                    division=row.get("classe", ""),
                    mef=(row.get("code_mef", ""), row.get("libelle_mef", "")),
                )
        finally:
            col.close()
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
