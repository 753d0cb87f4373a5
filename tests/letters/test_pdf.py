"""educompte.letters.pdf: fonts and long values in a credential letter."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from educompte.letters import pdf
from tests.helpers import letter_data


def pages_text(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


# --- Rendering ---------------------------------------------------------------------------------


@pytest.fixture
def without_dejavu(monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "_DEJAVU", tmp_path)  # an empty folder: no system fonts
    pdf.fonts.cache_clear()
    yield
    pdf.fonts.cache_clear()  # the next render registers DejaVu again


@pytest.mark.parametrize("fmt", ["page", "cards"])
def test_reportlabs_own_fonts_are_the_fallback(without_dejavu, fmt):
    assert pdf.fonts().mono == "Courier"
    text = pages_text(pdf.render([letter_data()], fmt))[0]
    for expected in ("Maëlle L'Hôpital-Cœur", "Lycée Sœur Marie-Thérèse", "ABCDEFGH23", "lmael123"):
        assert expected in text


def test_long_names_and_addresses_still_fit():
    long_name = "Marie-Bénédicte-Éléonore-Clothilde de La Tour d'Auvergne-Lauraguais"
    letter = letter_data(
        last_name=long_name,
        sign_in_url="https://educompte.ac-grenoble.example.fr/" + "tres-long/" * 12,
    )
    for fmt in pdf.FORMATS:
        text = pages_text(pdf.render([letter], fmt))[0]
        assert "ABCDEFGH23" in text and "lmael123" in text
