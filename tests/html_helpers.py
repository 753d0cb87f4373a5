"""Small HTML readers for assertions on rendered pages (standard library only)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
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
