"""Download names (security issue 11, item 13): a class code already in the database —
quotes, semicolons, line breaks, non-ASCII, bidi overrides — never adds a parameter or a
header to ``Content-Disposition`` (RFC 6266) and never makes letters or CSV fail."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.utils.html import escape
from pypdf import PdfReader

from educompte.letters import pdf
from educompte.pupils.models import AccountState
from educompte.www.administration import downloads
from tests.factories import DivisionFactory, make_pupil
from tests.helpers import letter_data, verified

pytestmark = pytest.mark.django_db

UAI = "0380001V"
STAMP = "20261201-1200"
LETTERS = f"/administration/{UAI}/courriers/"
ACTION = f"/administration/{UAI}/eleves/action/"
JOURNAL_CSV = f"/administration/{UAI}/journal/export/"

# class code -> what is left of it in the file name
HOSTILE_CODES = {
    "quote-semicolon": ('3A"; filename=evil.exe', "3A_filenameevil.exe"),
    "crlf": ("3A\r\nSet-Cookie: pwned=1", "3A__Set-Cookie_pwned1"),
    "backslash": ("3A\\..\\evil", "3A..evil"),
    "bidi-override": ("3A\u202efdp.exe", "3Afdp.exe"),
    "non-ascii": ("2nde É ☃", "2nde_É_"),
}


def disposition(name: str) -> str:
    """What the header must be: a quoted ASCII name, else RFC 5987's UTF-8 form."""
    if name.isascii():
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=utf-8''{quote(name)}"


@pytest.fixture
def admin_client(quick_head, monkeypatch):
    monkeypatch.setattr(downloads, "stamp", lambda: STAMP)
    return verified(quick_head)


@pytest.fixture(params=list(HOSTILE_CODES))
def hostile_class(request, college):
    code, shown = HOSTILE_CODES[request.param]
    division = DivisionFactory(establishment=college, code=code)
    account, _password = make_pupil(college, division=division, first_name="Léa", last_name="Piège")
    return division, account, shown


def assert_header_is_sound(response, expected: str) -> None:
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected
    # One header, one line: nothing smuggled in (Django would refuse a line break, with a
    # server error, before the fix).
    lines = response.serialize_headers().decode("latin-1").split("\r\n")
    names = [line.split(":", 1)[0].lower() for line in lines]
    assert names.count("content-disposition") == 1
    assert "set-cookie" not in names
    assert not response.cookies


@pytest.mark.parametrize("kind", ["letters_page", "letters_cards"])
def test_letters_pdf_of_a_hostile_class(admin_client, hostile_class, kind):
    division, account, shown = hostile_class

    response = admin_client.post(LETTERS, {"kind": kind, "division": division.pk})

    assert_header_is_sound(response, disposition(f"courriers-{UAI}-{shown}-{STAMP}.pdf"))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert account.identifier in text
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED


def test_credentials_csv_of_a_hostile_class(admin_client, hostile_class):
    division, account, shown = hostile_class

    response = admin_client.post(LETTERS, {"kind": "credentials_csv", "division": division.pk})

    assert_header_is_sound(response, disposition(f"identifiants-{UAI}-{shown}-{STAMP}.csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][:4] == ["Piège", "Léa", division.code, account.identifier]


def test_letters_page_and_pupils_list_show_a_hostile_class(admin_client, hostile_class):
    division, _account, _shown = hostile_class
    for address in (LETTERS, f"/administration/{UAI}/eleves/", f"/depannage/{UAI}/eleves/"):
        response = admin_client.get(address)
        assert response.status_code == 200, address
        assert escape(division.code) in response.content.decode(), address


def test_selection_and_whole_establishment_names(admin_client, college):
    account, _password = make_pupil(college)

    selection = admin_client.post(ACTION, {"action": "letters_page", "comptes": [account.pk]})
    assert_header_is_sound(
        selection, f'attachment; filename="courriers-{UAI}-selection-{STAMP}.pdf"'
    )

    everyone = admin_client.post(LETTERS, {"kind": "credentials_csv"})
    assert_header_is_sound(everyone, f'attachment; filename="identifiants-{UAI}-tous-{STAMP}.csv"')


def test_journal_csv_name(admin_client, college):
    response = admin_client.post(JOURNAL_CSV, {})

    assert_header_is_sound(response, f'attachment; filename="journal-{UAI}-{STAMP}.csv"')


def test_letters_command_with_a_hostile_class(college, tmp_path):
    code = '3A"; filename=evil.exe'
    division = DivisionFactory(establishment=college, code=code)
    account, _password = make_pupil(college, division=division)
    output, rows = tmp_path / "lettres.pdf", tmp_path / "identifiants.csv"

    out = io.StringIO()
    call_command("letters", uai=UAI, division=code, output=str(output), csv=str(rows), stdout=out)

    assert "letters: 1 pupils written" in out.getvalue()
    assert account.identifier in PdfReader(str(output)).pages[0].extract_text()
    written = list(csv.reader(io.StringIO(rows.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert written[1][2:4] == [code, account.identifier]


@pytest.mark.parametrize("fmt", ["page", "cards"])
def test_control_characters_of_a_class_code_are_printed_as_spaces(fmt):
    letter = letter_data(division="3A\r\n\x00B\u202e" + "C" * 26)
    text = PdfReader(io.BytesIO(pdf.render([letter], fmt))).pages[0].extract_text()
    assert "3A B" in text
    assert "\x00" not in text and "\u202e" not in text
