"""PDF rendering of credential letters with reportlab's canvas.

The low-level canvas (not platypus) keeps a whole establishment — a thousand pupils or
more — well under ten seconds. Fonts are TrueType and embedded so that accents, "œ" and
apostrophes print, and so that the text stays extractable (search, screen readers, tests).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
import unicodedata
from pathlib import Path

import reportlab
from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FORMATS = ("page", "cards")

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_BUNDLED = Path(reportlab.__file__).resolve().parent / "fonts"

BLUE = HexColor("#000091")  # the French State's blue, as on the web pages
INK = HexColor("#161616")
GREY = HexColor("#555555")
LIGHT = HexColor("#F5F5FE")
CUT = HexColor("#929292")

PAGE_W, PAGE_H = A4
# ASCII85 only makes binary streams 25 % larger and, without reportlab's optional C
# accelerator, costs more time than everything else: plain deflate is read everywhere.
rl_config.useA85 = 0


@dataclasses.dataclass(frozen=True)
class LetterData:
    """Everything one letter prints: no model instances, so rendering never queries."""

    establishment_name: str
    establishment_uai: str
    first_name: str
    last_name: str
    division: str  # class code, "" when the pupil has none
    identifier: str
    password: str
    expires_on: datetime.date
    sign_in_url: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclasses.dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str
    mono: str
    mono_bold: str


def _register(name: str, candidates: list[Path]) -> str | None:
    for path in candidates:
        if path.is_file():
            pdfmetrics.registerFont(TTFont(name, str(path)))
            return name
    return None


@functools.cache
def fonts() -> _Fonts:
    """Register the fonts once per process: DejaVu when the system has it, else the Vera
    fonts bundled with reportlab (Vera has no monospace: Courier is then enough, as
    identifiers and passwords are plain ASCII)."""
    regular = _register("EducompteSans", [_DEJAVU / "DejaVuSans.ttf", _BUNDLED / "Vera.ttf"])
    bold = _register(
        "EducompteSans-Bold", [_DEJAVU / "DejaVuSans-Bold.ttf", _BUNDLED / "VeraBd.ttf"]
    )
    mono = _register("EducompteMono", [_DEJAVU / "DejaVuSansMono.ttf"])
    mono_bold = _register("EducompteMono-Bold", [_DEJAVU / "DejaVuSansMono-Bold.ttf"])
    if regular is None or bold is None:  # reportlab always ships Vera: a broken install
        raise RuntimeError("no TrueType font found for the credential letters")
    return _Fonts(regular, bold, mono or "Courier", mono_bold or "Courier-Bold")


# --- Text helpers -------------------------------------------------------------------------


def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def _fit(text: str, font: str, size: float, width: float, min_size: float) -> tuple[str, float]:
    """Shrink the font down to ``min_size`` for long names, then cut with an ellipsis."""
    while size > min_size and _width(text, font, size) > width:
        size -= 0.5
    if _width(text, font, size) <= width:
        return text, size
    while text and _width(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…", size


def _printable(text: str) -> str:
    """A class code as printed: line breaks and other control or invisible characters (a
    code imported before they were refused) become spaces rather than missing glyphs."""
    cleaned = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    return " ".join(cleaned.split())


def _lines(text: str, font: str, size: float, width: float) -> list[str]:
    """Word-wrap ``text``; a word longer than the line (a long URL) is broken anywhere."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _width(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while _width(word, font, size) > width:
            cut = len(word) - 1
            while cut > 1 and _width(word[:cut], font, size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


def _paragraph(
    c: Canvas,
    text: str,
    x: float,
    y: float,
    width: float,
    font: str,
    size: float,
    leading: float,
) -> float:
    """Draw wrapped text from baseline ``y`` down; returns the baseline after the last line."""
    c.setFont(font, size)
    for line in _lines(text, font, size, width):
        c.drawString(x, y, line)
        y -= leading
    return y


def _date(day: datetime.date) -> str:
    return f"{day:%d/%m/%Y}"


# --- One A4 page per pupil ------------------------------------------------------------------
# What every letter of an establishment shares (header, steps, privacy note…) is drawn once
# as a PDF form and placed on each page: a thousand letters then render in a few seconds
# (reportlab's pure-Python text encoding is the bottleneck) and the file stays small.

MARGIN = 56  # 2 cm
CONTENT_W = PAGE_W - 2 * MARGIN
VALUE_X = MARGIN + 80  # where the pupil's name and class start
STEPS = (
    "Rendez-vous sur {url}",
    "Saisissez votre identifiant et ce mot de passe provisoire (les minuscules sont "
    "acceptées, sans espace).",
    "Choisissez votre propre mot de passe et confirmez votre date de naissance.",
    "Conservez ce courrier en lieu sûr ou détruisez-le une fois votre compte activé : "
    "le mot de passe provisoire ne servira plus.",
)
PRIVACY = (
    "Ce courrier est personnel. Ne communiquez jamais votre mot de passe, ni à vos camarades "
    "ni par messagerie : personne dans votre établissement ne vous le demandera. Educompte "
    "utilise vos nom, prénom, classe et date de naissance pour vous donner accès aux services "
    "numériques de votre établissement ; pour toute question sur vos données ou pour exercer "
    "vos droits, adressez-vous au secrétariat de votre établissement."
)


@dataclasses.dataclass(frozen=True)
class _PageLayout:
    """Baselines of what each page adds on top of the shared form."""

    form: str
    name_y: float
    class_y: float
    identifier_y: float
    password_y: float
    expiry_y: float


def _page_form(c: Canvas, f: _Fonts, form: str, letter: LetterData) -> _PageLayout:
    left, width = MARGIN, CONTENT_W
    c.beginForm(form)
    y = PAGE_H - MARGIN

    # Header band: brand on the left, confidentiality on the right.
    c.setFillColor(BLUE)
    c.setFont(f.bold, 12)
    c.drawString(left, y, "Educompte")
    c.setFillColor(GREY)
    c.setFont(f.regular, 8.5)
    c.drawRightString(left + width, y, "Document personnel et confidentiel")
    y -= 10
    c.setStrokeColor(BLUE)
    c.setLineWidth(1.5)
    c.line(left, y, left + width, y)

    y -= 44
    c.setFillColor(INK)
    c.setFont(f.bold, 24)
    c.drawString(left, y, "Votre compte Educompte")
    y -= 24
    c.setFillColor(GREY)
    establishment, size = _fit(
        f"{letter.establishment_name} ({letter.establishment_uai})", f.regular, 11, width, 8
    )
    c.setFont(f.regular, size)
    c.drawString(left, y, establishment)

    y -= 32
    name_y, class_y = y, y - 20
    c.setFillColor(INK)
    c.setFont(f.regular, 11)
    c.drawString(left, name_y, "Élève")

    # The framed box: the two things to type, large and in a monospaced face.
    y = class_y - 22
    box_h = 124
    c.setFillColor(LIGHT)
    c.setStrokeColor(BLUE)
    c.setLineWidth(1.2)
    c.roundRect(left, y - box_h, width, box_h, 6, stroke=1, fill=1)
    identifier_y, password_y = y - 52, y - 110
    c.setFillColor(GREY)
    c.setFont(f.regular, 10)
    c.drawString(left + 20, identifier_y + 28, "Identifiant")
    c.drawString(left + 20, password_y + 28, "Mot de passe provisoire")
    y -= box_h

    y -= 30
    c.setFillColor(INK)
    c.setFont(f.bold, 12)
    c.drawString(left, y, "Adresse de connexion")
    y -= 18
    c.setFillColor(BLUE)
    y = _paragraph(c, letter.sign_in_url, left, y, width, f.regular, 12, 15)

    y -= 16
    c.setFillColor(INK)
    c.setFont(f.bold, 12)
    c.drawString(left, y, "Pour activer votre compte")
    y -= 20
    for number, step in enumerate(STEPS, start=1):
        c.setFont(f.bold, 11)
        c.drawString(left, y, f"{number}.")
        text = step.format(url=letter.sign_in_url)
        y = _paragraph(c, text, left + 20, y, width - 20, f.regular, 11, 14.5) - 6

    expiry_y = y - 10
    c.setFillColor(GREY)
    c.setFont(f.regular, 10)
    c.drawString(
        left, expiry_y - 15, "Passé cette date, demandez un nouveau courrier à votre établissement."
    )

    # Privacy note at the foot of the page, above a thin rule.
    lines = _lines(PRIVACY, f.regular, 8.5, width)
    y = MARGIN + 12 * len(lines) + 8
    c.setStrokeColor(CUT)
    c.setLineWidth(0.5)
    c.line(left, y + 6, left + width, y + 6)
    y -= 8
    c.setFillColor(INK)
    c.setFont(f.bold, 9)
    c.drawString(left, y, "Protection de vos données")
    y -= 13
    c.setFillColor(GREY)
    c.setFont(f.regular, 8.5)
    for line in lines:
        c.drawString(left, y, line)
        y -= 12
    c.endForm()
    return _PageLayout(form, name_y, class_y, identifier_y, password_y, expiry_y)


def _page(c: Canvas, f: _Fonts, layout: _PageLayout, letter: LetterData) -> None:
    c.doForm(layout.form)
    c.setFillColor(INK)
    name, size = _fit(letter.full_name, f.bold, 16, PAGE_W - MARGIN - VALUE_X, 10)
    c.setFont(f.bold, size)
    c.drawString(VALUE_X, layout.name_y, name)
    if letter.division:
        c.setFont(f.regular, 11)
        c.drawString(MARGIN, layout.class_y, "Classe")
        code, size = _fit(_printable(letter.division), f.bold, 12, PAGE_W - MARGIN - VALUE_X, 8)
        c.setFont(f.bold, size)
        c.drawString(VALUE_X, layout.class_y, code)
    c.setFont(f.mono_bold, 24)
    c.drawString(MARGIN + 20, layout.identifier_y, letter.identifier)
    c.drawString(MARGIN + 20, layout.password_y, letter.password)
    c.setFont(f.bold, 11.5)
    c.drawString(
        MARGIN,
        layout.expiry_y,
        f"Ce mot de passe provisoire expire le {_date(letter.expires_on)}.",
    )


# --- Eight cards per page ---------------------------------------------------------------------

CARD_MARGIN = 28  # 1 cm: inside what office printers can print
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
CARD_W = (PAGE_W - 2 * CARD_MARGIN) / COLUMNS
CARD_H = (PAGE_H - 2 * CARD_MARGIN) / ROWS
PAD = 14
CARD_TEXT_W = CARD_W - 2 * PAD


def _card_origin(col: int, row: int) -> tuple[float, float]:
    """Bottom-left corner of a card; row 0 is at the top of the page."""
    return CARD_MARGIN + col * CARD_W, PAGE_H - CARD_MARGIN - (row + 1) * CARD_H


def _cut_lines(c: Canvas, cells: list[tuple[int, int]]) -> None:
    """Dashed lines around the used cards, each edge drawn once so dashes stay regular."""
    edges: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    for col, row in cells:
        # Grid corners, (col, row) counted from the top-left of the page.
        edges |= {
            ((col, row), (col + 1, row)),
            ((col, row + 1), (col + 1, row + 1)),
            ((col, row), (col, row + 1)),
            ((col + 1, row), (col + 1, row + 1)),
        }
    c.setStrokeColor(CUT)
    c.setLineWidth(0.6)
    c.setDash(4, 3)
    for (c1, r1), (c2, r2) in sorted(edges):
        c.line(
            CARD_MARGIN + c1 * CARD_W,
            PAGE_H - CARD_MARGIN - r1 * CARD_H,
            CARD_MARGIN + c2 * CARD_W,
            PAGE_H - CARD_MARGIN - r2 * CARD_H,
        )
    c.setDash()


@dataclasses.dataclass(frozen=True)
class _CardLayout:
    """Baselines, relative to the card's bottom-left corner, of what each card adds."""

    form: str
    name_y: float
    class_y: float
    identifier_y: float
    password_y: float
    expiry_y: float


def _card_form(c: Canvas, f: _Fonts, form: str, letter: LetterData) -> _CardLayout:
    left, width = PAD, CARD_TEXT_W
    c.beginForm(form, 0, 0, CARD_W, CARD_H)
    y = CARD_H - PAD - 10
    c.setFillColor(BLUE)
    establishment, size = _fit(
        f"{letter.establishment_name} ({letter.establishment_uai})", f.bold, 8, width, 6.5
    )
    c.setFont(f.bold, size)
    c.drawString(left, y, establishment)
    name_y = y - 19
    class_y = name_y - 14

    y = class_y - 12
    box_h = 76
    c.setFillColor(LIGHT)
    c.setStrokeColor(BLUE)
    c.setLineWidth(0.8)
    c.roundRect(left, y - box_h, width, box_h, 4, stroke=1, fill=1)
    identifier_y, password_y = y - 30, y - 65
    c.setFillColor(GREY)
    c.setFont(f.regular, 7.5)
    c.drawString(left + 8, identifier_y + 17, "Identifiant")
    c.drawString(left + 8, password_y + 17, "Mot de passe provisoire")
    y -= box_h

    y -= 14
    c.setFillColor(INK)
    c.setFont(f.regular, 7.5)
    c.drawString(left, y, "Connexion :")
    c.setFillColor(BLUE)
    url_x = left + _width("Connexion : ", f.regular, 7.5)
    for line in _lines(letter.sign_in_url, f.regular, 7.5, left + width - url_x)[:2]:
        c.drawString(url_x, y, line)
        y -= 10.5
    expiry_y = y - 1
    c.setFillColor(GREY)
    c.setFont(f.regular, 7)
    c.drawString(left, expiry_y - 10.5, "À la première connexion, choisissez votre mot de passe.")
    c.endForm()
    return _CardLayout(form, name_y, class_y, identifier_y, password_y, expiry_y)


def _card(c: Canvas, f: _Fonts, layout: _CardLayout, letter: LetterData) -> None:
    """Draw one card with the origin already moved to its bottom-left corner."""
    c.doForm(layout.form)
    c.setFillColor(INK)
    name, size = _fit(letter.full_name, f.bold, 13, CARD_TEXT_W, 8)
    c.setFont(f.bold, size)
    c.drawString(PAD, layout.name_y, name)
    if letter.division:
        line, size = _fit(f"Classe {_printable(letter.division)}", f.regular, 9, CARD_TEXT_W, 7)
        c.setFont(f.regular, size)
        c.drawString(PAD, layout.class_y, line)
    c.setFont(f.mono_bold, 16)
    c.drawString(PAD + 8, layout.identifier_y, letter.identifier)
    c.drawString(PAD + 8, layout.password_y, letter.password)
    c.setFont(f.bold, 7.5)
    c.drawString(
        PAD,
        layout.expiry_y,
        f"Mot de passe provisoire valable jusqu'au {_date(letter.expires_on)}",
    )


# --- Entry point -------------------------------------------------------------------------------


def _empty(c: Canvas, f: _Fonts) -> None:
    c.setFillColor(INK)
    c.setFont(f.bold, 14)
    c.drawString(MARGIN, PAGE_H - MARGIN - 20, "Aucun courrier à éditer")
    c.setFont(f.regular, 11)
    c.drawString(
        MARGIN, PAGE_H - MARGIN - 42, "Les comptes choisis sont tous activés ou désactivés."
    )


def render(letters: list[LetterData], fmt: str) -> bytes:
    """The letters as one PDF, in the given order: ``page`` (one A4 page per pupil) or
    ``cards`` (eight cards to cut out per A4 page)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown letter format {fmt!r} (expected one of {', '.join(FORMATS)})")
    f = fonts()
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, pageCompression=1)
    title = "Courriers d'identifiants Educompte"
    if letters:
        title += f" – {letters[0].establishment_name} ({letters[0].establishment_uai})"
    c.setTitle(title)
    c.setAuthor("Educompte")
    c.setSubject("Identifiants et mots de passe provisoires des élèves")
    c.setCreator("Educompte")

    # One shared form per establishment and address (a list normally has just one).
    layouts: dict[tuple[str, str, str], _PageLayout | _CardLayout] = {}

    def layout_of(letter: LetterData):
        key = (letter.establishment_name, letter.establishment_uai, letter.sign_in_url)
        if key not in layouts:
            build = _page_form if fmt == "page" else _card_form
            layouts[key] = build(c, f, f"{fmt}{len(layouts)}", letter)
        return layouts[key]

    if not letters:
        _empty(c, f)
        c.showPage()
    elif fmt == "page":
        for letter in letters:
            layout = layout_of(letter)  # before drawing: a form cannot start mid-page
            _page(c, f, layout, letter)
            c.showPage()
    else:
        for start in range(0, len(letters), PER_PAGE):
            chunk = letters[start : start + PER_PAGE]
            cells = [(i % COLUMNS, i // COLUMNS) for i in range(len(chunk))]
            chunk_layouts = [layout_of(letter) for letter in chunk]
            _cut_lines(c, cells)
            for letter, layout, (col, row) in zip(chunk, chunk_layouts, cells, strict=True):
                c.saveState()
                c.translate(*_card_origin(col, row))
                _card(c, f, layout, letter)
                c.restoreState()
            c.showPage()
    c.save()
    return out.getvalue()
