"""Small HTML readers for assertions on rendered pages (standard library only)."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclasses.dataclass
class Element:
    """An element of a page with its attributes, its text and where it stands."""

    tag: str
    attrs: dict[str, str]
    row: int | None  # account id of the enclosing <tr data-account>, if any
    cell: int | None  # index of the enclosing <td> in that row
    form: str | None  # id of the enclosing <form>, if any
    parts: list[str] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[dict[str, str]] = []
        self.labels: list[tuple[dict[str, str], str]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.handlers: list[str] = []
        self.rows: list[tuple[dict[str, str], list[str]]] = []
        self.headers: list[str] = []
        self._label: tuple[dict[str, str], list[str]] | None = None
        self._script: tuple[dict[str, str], list[str]] | None = None
        self._row: tuple[dict[str, str], list[str]] | None = None
        self._cell: list[str] | None = None
        self._th: list[str] | None = None
        # Every element, in document order (see ``elements``).
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self._account: int | None = None
        self._account_cell: int | None = None
        self._form: str | None = None
        self._self_closing = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._self_closing = True
        try:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)
        finally:
            self._self_closing = False

    def _start_element(self, tag: str, a: dict[str, str]) -> None:
        if self._self_closing:
            self.elements.append(Element(tag, a, self._account, self._account_cell, self._form))
            return
        if tag == "tr":
            account = a.get("data-account", "")
            self._account = int(account) if account.isdigit() else None
            self._account_cell = None
        elif tag == "td" and self._account is not None:
            self._account_cell = 0 if self._account_cell is None else self._account_cell + 1
        elif tag == "form":
            self._form = a.get("id", "")
        element = Element(tag, a, self._account, self._account_cell, self._form)
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def _end_element(self, tag: str) -> None:
        if self._self_closing:
            return
        if tag == "tr":
            self._account = self._account_cell = None
        elif tag == "form":
            self._form = None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        self._start_element(tag, a)
        self.handlers += [k for k in a if k.startswith("on")]
        if tag in ("input", "select", "textarea"):
            self.inputs.append({"tag": tag, **a})
        elif tag == "label":
            self._label = (a, [])
        elif tag == "script":
            self._script = (a, [])
        elif tag == "tr":
            self._row = (a, [])
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "th":
            self._th = []

    def handle_endtag(self, tag: str) -> None:
        self._end_element(tag)
        if tag == "label" and self._label is not None:
            self.labels.append((self._label[0], " ".join("".join(self._label[1]).split())))
            self._label = None
        elif tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row[1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "th" and self._th is not None:
            self.headers.append(" ".join("".join(self._th).split()))
            self._th = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)
        for sink in (self._label, self._script):
            if sink is not None:
                sink[1].append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._th is not None:
            self._th.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def elements(html: str) -> list[Element]:
    """Every element of the page, each knowing its row, cell and form (see ``Element``)."""
    return parse(html).elements


def find(found: list[Element], tag: str, *, cls: str | None = None, **attrs) -> list[Element]:
    """The elements of ``found`` with this tag, class and attributes (``data_x`` is
    ``data-x``, a trailing ``_`` is dropped: ``type_``)."""
    return [
        e
        for e in found
        if e.tag == tag
        and (cls is None or cls in e.classes)
        and all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
    ]


def in_row(found: list[Element], account_id: int, cell: int | None = None) -> list[Element]:
    """The elements of the table row of an account, or of one of its cells."""
    return [e for e in found if e.row == account_id and (cell is None or e.cell == cell)]


def one(found: list[Element]) -> Element:
    assert len(found) == 1, found
    return found[0]


def label_of(html: str, field_name: str) -> str:
    """The text of the ``<label for=...>`` of the input named ``field_name``; fails if none."""
    page = parse(html)
    matches = [i for i in page.inputs if i.get("name") == field_name]
    assert len(matches) == 1, f"expected one input named {field_name!r}, found {len(matches)}"
    field_id = matches[0].get("id")
    assert field_id, f"input {field_name!r} has no id, so no <label for> can point at it"
    ids = [i.get("id") for i in page.inputs]
    assert ids.count(field_id) == 1, f"id {field_id!r} is not unique"
    labels = [text for attrs, text in page.labels if attrs.get("for") == field_id]
    assert len(labels) == 1, f"expected one <label for={field_id!r}>, found {len(labels)}"
    return labels[0]


def account_rows(html: str) -> dict[int, list[str]]:
    """Rows of the Dépannage table keyed by account id, each as the list of its cell texts."""
    return {
        int(attrs["data-account"]): cells
        for attrs, cells in parse(html).rows
        if attrs.get("data-account", "").isdigit()
    }


def table_headers(html: str) -> list[str]:
    return parse(html).headers


def without_csrf(html: str) -> str:
    """The page with its (per-response masked) CSRF tokens blanked, for comparisons."""
    return _CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', html)


def error_alerts(html: str) -> list[str]:
    """Texts of the DSFR error alerts of a page."""
    found = re.findall(
        r'<div class="fr-alert fr-alert--error[^"]*"[^>]*>(.*?)</div>', html, flags=re.S
    )
    return [" ".join(re.sub(r"<[^>]+>", " ", f).split()) for f in found]
