"""The performance-minded code paths of 152b7ec and 28539a8 keep the behaviour they replaced.

- the Dépannage rows written in Python (educompte/www/rows.py) instead of the template;
- ``FastSelect`` against Django's ``forms.Select``;
- the filter lists (one UNION query) and the lock that comes with each searched row;
- the rights read in one UNION query;
- the sign-in that skips the DELETE of the throttle table when there is nothing to clear;
- database sessions written in autocommit mode;
- the number of queries of the Dépannage page, whatever the number of pupils.

Only behaviour and query counts are asserted here, never timings.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from educompte.accounts import authz, throttling
from educompte.accounts.models import Assignment, Delegation, Right, ThrottleCounter, User
from educompte.accounts.services import sign_in_agent
from educompte.core.sessions import SessionStore
from educompte.pupils import selectors, services
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.pupils.services import SignIn
from educompte.schools.models import Establishment, school_year_of
from educompte.www.forms import FastSelect, PupilSearchForm
from tests.factories import (
    AGENT_PASSWORD,
    AgentFactory,
    DivisionFactory,
    EstablishmentFactory,
    MefFactory,
    make_pupil,
)
from tests.helpers import new_client, signed_in
from tests.html_helpers import account_rows

PARIS = ZoneInfo("Europe/Paris")
WRONG = "AAAAAAAAAA"
CHOSEN = "Une phrase de passe solide !"
BIRTH = datetime.date(2011, 3, 14)
HERE, ELSEWHERE = "203.0.113.9", "198.51.100.7"

NASTY_LAST = "<script>alert('nom')</script> & \"Fils\""
NASTY_FIRST = 'Zoé "l\'&<b>"'
NASTY_EMAIL = "\"<script>alert('mail')</script>&\"@example.org"
NASTY_USERNAME = "zoe&<i>'\"1"
NASTY_CODE = "3<B>&'\""

# Columns of the Dépannage table.
SELECT, NAME, CLASS, IDENTIFIER, PASSWORD, STATE, EMAIL, ACTION = range(8)


# --- A small HTML reader: every element with its attributes, text, row and cell ---------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclasses.dataclass
class Element:
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


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self._row: int | None = None
        self._cell: int | None = None
        self._form: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "tr":
            self._row = int(a["data-account"]) if a.get("data-account", "").isdigit() else None
            self._cell = None
        elif tag == "td" and self._row is not None:
            self._cell = 0 if self._cell is None else self._cell + 1
        elif tag == "form":
            self._form = a.get("id", "")
        element = Element(tag, a, self._row, self._cell, self._form)
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.elements.append(Element(tag, a, self._row, self._cell, self._form))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = self._cell = None
        elif tag == "form":
            self._form = None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for element in self._open:
            element.parts.append(data)


def elements(html: str) -> list[Element]:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.elements


def find(found: list[Element], tag: str, *, cls: str | None = None, **attrs) -> list[Element]:
    return [
        e
        for e in found
        if e.tag == tag
        and (cls is None or cls in e.classes)
        and all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
    ]


def in_row(found: list[Element], account_id: int, cell: int | None = None) -> list[Element]:
    return [e for e in found if e.row == account_id and (cell is None or e.cell == cell)]


def one(found: list[Element]) -> Element:
    assert len(found) == 1, found
    return found[0]


def paris(value: datetime.datetime, fmt: str) -> str:
    return value.astimezone(PARIS).strftime(fmt)


# --- 1. The Dépannage rows --------------------------------------------------------------------


def _lock(user_id: int, until: datetime.datetime, *, key: str = "") -> None:
    """A lock of the account (``key`` a pair's key for a lock of one address)."""
    ThrottleCounter.objects.create(
        key=key or f"account:u{user_id}",
        kind=key.split(":")[0] if key else "account",
        user_id=user_id,
        count=25,
        window_start=timezone.now() - datetime.timedelta(hours=1),
        locked_until=until,
    )


@pytest.fixture
def console(college, quick_delegate):
    """Pupils covering each branch of a row, one of them with markup in every value."""
    # A pupil record of another school without an account: pupil and account ids differ.
    Student.objects.create(
        establishment=EstablishmentFactory(),
        last_name="Autre",
        first_name="Ailleurs",
        birth_date=BIRTH,
    )
    d3a = DivisionFactory(establishment=college, code="3A")
    weird = DivisionFactory(establishment=college, code=NASTY_CODE)
    mef = MefFactory(label="3EME")
    now = timezone.now()
    pupils = {
        "informed": make_pupil(
            college, first_name="Alice", last_name="Aubert", division=d3a, mef=mef
        ),
        "expired": make_pupil(
            college, first_name="Bruno", last_name="Bernard", state=AccountState.NOT_INFORMED
        ),
        "no_expiry": make_pupil(college, first_name="Carla", last_name="Colin", division=d3a),
        "active": make_pupil(
            college,
            first_name="Chloé",
            last_name="Durand",
            division=d3a,
            state=AccountState.ACTIVE,
        ),
        "deactivated": make_pupil(
            college,
            first_name="David",
            last_name="Eymard",
            division=d3a,
            state=AccountState.DEACTIVATED,
        ),
        "nasty": make_pupil(college, first_name=NASTY_FIRST, last_name=NASTY_LAST, division=weird),
    }
    accounts = {key: account for key, (account, _password) in pupils.items()}
    passwords = {key: password for key, (_account, password) in pupils.items()}
    StudentAccount.objects.filter(pk=accounts["expired"].pk).update(
        provisional_expires_at=now - datetime.timedelta(days=1)
    )
    StudentAccount.objects.filter(pk=accounts["no_expiry"].pk).update(provisional_expires_at=None)
    # 23:30 UTC: already the next day in Paris, where the page shows its dates.
    late = (now + datetime.timedelta(days=10)).astimezone(datetime.UTC)
    late = late.replace(hour=23, minute=30, second=0, microsecond=0)
    StudentAccount.objects.filter(pk=accounts["informed"].pk).update(provisional_expires_at=late)
    StudentAccount.objects.filter(pk=accounts["active"].pk).update(
        email="chloe@example.org", email_confirmed=True
    )
    StudentAccount.objects.filter(pk=accounts["deactivated"].pk).update(
        email="david@example.org", email_confirmed=False
    )
    StudentAccount.objects.filter(pk=accounts["nasty"].pk).update(
        email=NASTY_EMAIL, email_confirmed=False
    )
    User.objects.filter(pk=accounts["nasty"].user_id).update(username=NASTY_USERNAME)
    # The nasty pupil is locked twice (latest wins); another one only had a lock, now over,
    # and another one has failures without a lock.
    until = now.replace(second=0, microsecond=0) + datetime.timedelta(hours=3)
    _lock(accounts["nasty"].user_id, until)
    nasty_pair = f"pair:u{accounts['nasty'].user_id}:{HERE}"
    _lock(accounts["nasty"].user_id, until - datetime.timedelta(hours=2), key=nasty_pair)
    _lock(accounts["informed"].user_id, now - datetime.timedelta(minutes=1))
    ThrottleCounter.objects.create(
        key=f"pair:u{accounts['active'].user_id}:{HERE}",
        kind="pair",
        user_id=accounts["active"].user_id,
        count=2,
        window_start=now,
    )
    for account in accounts.values():
        account.refresh_from_db()
    return {
        "accounts": accounts,
        "passwords": passwords,
        "until": until,
        "client": signed_in(quick_delegate),
        "url": reverse("depannage:pupils", args=[college.uai]),
    }


QUERY = {"tri": "nom", "x": "a&b/é c+d", "page": "1"}
QUERYSTRING = urlencode({"tri": "nom", "x": "a&b/é c+d"})  # "page" is left out


def test_markup_in_pupil_values_is_escaped_everywhere(console):
    response = console["client"].get(console["url"], QUERY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(" not in html
    assert "alert('" not in html  # quotes are escaped too, in text and attributes
    assert '<b>"' not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#x27;nom&#x27;)&lt;/script&gt; &amp; &quot;Fils&quot;" in html

    account = console["accounts"]["nasty"]
    full_name = account.student.full_name
    found = elements(html)
    row = in_row(found, account.pk)
    cells = account_rows(html)[account.pk]
    # Read back by an HTML parser, every value is the stored one, character for character.
    assert one(find(row, "span", cls="ec-last-name")).text == " ".join(NASTY_LAST.split())
    assert cells[NAME] == " ".join(f"{NASTY_LAST} {NASTY_FIRST}".split())
    assert cells[CLASS] == NASTY_CODE
    assert cells[IDENTIFIER] == NASTY_USERNAME
    assert one(find(row, "label", for_=f"sel-{account.pk}")).text == f"Sélectionner {full_name}"
    email_cell = in_row(found, account.pk, EMAIL)
    assert one(find(email_cell, "td")).parts[0] == NASTY_EMAIL
    reset = one(find(row, "a", cls="ec-reset"))
    assert reset.attrs["data-pupil"] == full_name
    unlock = one(find(row, "button", form=f"unlock-{account.pk}"))
    assert one(find(in_row(found, account.pk, STATE), "span", cls="fr-sr-only")).text == (
        " ".join(full_name.split())
    )
    assert unlock.text.startswith("Débloquer")
    # A confirmed address is escaped the same way.
    StudentAccount.objects.filter(pk=account.pk).update(email_confirmed=True)
    html = console["client"].get(console["url"], QUERY).content.decode()
    assert "<script>alert(" not in html
    confirmed = in_row(elements(html), account.pk, EMAIL)
    assert one(find(confirmed, "td")).parts[0] == NASTY_EMAIL
    assert one(find(confirmed, "span")).text == "Confirmée"
    # Only the page's markup: one <tr> per pupil, each with its eight cells.
    assert len([e for e in found if e.tag == "td" and e.row == account.pk]) == 8
    # The filter list of the classes escapes the code the same way.
    option = one(find(found, "option", value=str(account.student.division_id)))
    assert option.text == NASTY_CODE


def test_row_cells_for_each_state(console):
    html = console["client"].get(console["url"]).content.decode()
    found = elements(html)
    rows = account_rows(html)
    accounts, passwords = console["accounts"], console["passwords"]

    def badge(key):
        span = find(in_row(found, accounts[key].pk, STATE), "span", cls="fr-badge")[0]
        return span.classes, span.text

    def password_spans(key):
        return find(in_row(found, accounts[key].pk, PASSWORD), "span")

    # Informed, with its class, a provisional password and its expiry date.
    informed = accounts["informed"]
    cells = rows[informed.pk]
    assert cells[NAME] == "Aubert Alice"
    assert cells[CLASS] == "3A"
    assert cells[IDENTIFIER] == informed.identifier
    spans = password_spans("informed")
    assert one(find(spans, "span", cls="ec-password")).text == passwords["informed"]
    expiry = paris(informed.provisional_expires_at, "%d/%m/%Y")
    assert expiry != informed.provisional_expires_at.strftime("%d/%m/%Y")  # not the UTC day
    assert one(find(spans, "span", cls="fr-text--xs")).text == f"expire le {expiry}"
    assert not find(spans, "span", cls="fr-badge--error")
    informed_badge = ({"fr-badge", "fr-badge--sm", "fr-badge--info"}, "Non activé - informé")
    assert badge("informed") == informed_badge
    assert cells[EMAIL] == "Non renseigné"
    assert one(find(in_row(found, informed.pk, EMAIL), "span")).classes == {"ec-muted"}

    # Not informed, no class, provisional password expired: "Expiré" and no date.
    expired = accounts["expired"]
    cells = rows[expired.pk]
    assert cells[CLASS] == "—"
    spans = password_spans("expired")
    assert one(find(spans, "span", cls="ec-password")).text == passwords["expired"]
    expired_badge = one(find(spans, "span", cls="fr-badge"))
    assert expired_badge.classes == {"fr-badge", "fr-badge--sm", "fr-badge--error"}
    assert expired_badge.text == "Expiré"
    assert "expire le" not in cells[PASSWORD]
    new_badge = ({"fr-badge", "fr-badge--sm", "fr-badge--new"}, "Non activé - non informé")
    assert badge("expired") == new_badge

    # A provisional password without an expiry date: the password alone.
    spans = password_spans("no_expiry")
    assert [s.text for s in spans] == [passwords["no_expiry"]]

    # Active: no password even though a ciphertext is still stored; e-mail confirmed.
    active = accounts["active"]
    assert active.provisional_password_encrypted
    cells = rows[active.pk]
    assert cells[PASSWORD] == ""
    assert passwords["active"] not in html
    assert badge("active") == ({"fr-badge", "fr-badge--sm", "fr-badge--success"}, "Activé")
    email_spans = find(in_row(found, active.pk, EMAIL), "span")
    assert cells[EMAIL] == "chloe@example.orgConfirmée"
    assert one(email_spans).classes == {
        "fr-badge",
        "fr-badge--sm",
        "fr-badge--no-icon",
        "fr-badge--success",
    }
    assert one(email_spans).text == "Confirmée"
    assert find(in_row(found, active.pk), "a", cls="ec-reset")

    # Deactivated: no password, a plain badge, e-mail not confirmed, no reset link.
    deactivated = accounts["deactivated"]
    cells = rows[deactivated.pk]
    assert cells[PASSWORD] == ""
    assert passwords["deactivated"] not in html
    assert badge("deactivated") == ({"fr-badge", "fr-badge--sm"}, "Désactivé")
    email_spans = find(in_row(found, deactivated.pk, EMAIL), "span")
    assert one(email_spans).classes == {"fr-badge", "fr-badge--sm", "fr-badge--no-icon"}
    assert one(email_spans).text == "Non confirmée"
    assert cells[EMAIL].startswith("david@example.org")
    assert cells[ACTION] == ""
    assert not find(in_row(found, deactivated.pk), "a")
    uai = deactivated.student.establishment.uai
    assert reverse("depannage:reset", args=[uai, deactivated.pk]) not in html

    # Every row: the checkbox of the selection and its label.
    for account in accounts.values():
        box = one(find(in_row(found, account.pk, SELECT), "input"))
        assert box.attrs == {
            "type": "checkbox",
            "name": "comptes",
            "value": str(account.pk),
            "id": f"sel-{account.pk}",
            "class": "ec-row-select",
        }
        label = one(find(in_row(found, account.pk, SELECT), "label", for_=f"sel-{account.pk}"))
        assert label.text == " ".join(f"Sélectionner {account.student.full_name}".split())


def test_reset_links_carry_the_search_back(console, college):
    html = console["client"].get(console["url"], QUERY).content.decode()
    found = elements(html)
    for key, account in console["accounts"].items():
        links = find(in_row(found, account.pk), "a", cls="ec-reset")
        if key == "deactivated":
            assert links == []
            continue
        link = one(links)
        reset_url = reverse("depannage:reset", args=[college.uai, account.pk])
        assert link.attrs["data-reset-url"] == reset_url
        assert link.attrs["data-pupil"] == account.student.full_name
        assert link.text == "Réinitialiser le mot de passe"
        href = urlsplit(link.attrs["href"])
        assert href.path == reset_url
        assert parse_qs(href.query, keep_blank_values=True) == {"back": [QUERYSTRING]}
    # The link leads to the confirmation page, which links back to the same search.
    link = one(find(in_row(found, console["accounts"]["informed"].pk), "a", cls="ec-reset"))
    confirm = console["client"].get(link.attrs["href"])
    assert confirm.status_code == 200
    assert f"{console['url']}?{QUERYSTRING}".replace("&", "&amp;") in confirm.content.decode()


def test_only_a_locked_account_shows_its_lock_and_unlock_form(console, college):
    html = console["client"].get(console["url"], QUERY).content.decode()
    found = elements(html)
    nasty = console["accounts"]["nasty"]
    until = paris(console["until"], "%d/%m %H:%M")

    state = in_row(found, nasty.pk, STATE)
    blocked = one(find(state, "span", cls="ec-blocked"))
    assert blocked.classes == {"fr-badge", "fr-badge--sm", "fr-badge--warning", "ec-blocked"}
    assert blocked.text == f"Bloqué jusqu'à {until}"  # the latest of its locks
    button = one(find(state, "button"))
    assert button.attrs["type"] == "submit"
    assert button.attrs["form"] == f"unlock-{nasty.pk}"
    assert button.text == " ".join(f"Débloquer {nasty.student.full_name}".split())

    unlock_forms = [e for e in find(found, "form") if e.attrs.get("id", "").startswith("unlock-")]
    assert len(unlock_forms) == 1
    form = unlock_forms[0]
    assert form.attrs["id"] == f"unlock-{nasty.pk}"
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == reverse("depannage:unlock", args=[college.uai, nasty.pk])
    back = one([e for e in find(found, "input", name="back") if e.form == form.attrs["id"]])
    assert back.attrs == {"type": "hidden", "name": "back", "value": QUERYSTRING}
    assert find(found, "input", name="csrfmiddlewaretoken")[0].form is not None

    # A lock that is over, failures without a lock, no counter at all: nothing shown.
    for key in ("informed", "active", "expired", "deactivated", "no_expiry"):
        account = console["accounts"][key]
        assert not find(in_row(found, account.pk), "button"), key
        assert not find(in_row(found, account.pk), "span", cls="ec-blocked"), key
        assert "Bloqué" not in account_rows(html)[account.pk][STATE]
    assert html.count("Bloqué jusqu") == 1

    # The button's form does unlock.
    response = console["client"].post(form.attrs["action"], {"back": QUERYSTRING})
    assert response.status_code == 302
    assert throttling.blocked_until([nasty.user_id]) == {}
    after = console["client"].get(console["url"]).content.decode()
    assert "Bloqué jusqu" not in after
    assert f'id="unlock-{nasty.pk}"' not in after


def test_page_ids_are_the_accounts_of_the_page(console, settings):
    settings.EDUCOMPTE_PAGE_SIZE = 4
    client, url = console["client"], console["url"]
    seen = []
    for number in (1, 2):
        html = client.get(url, {"page": number}).content.decode()
        found = elements(html)
        ids = [e.attrs["value"] for e in find(found, "input", type="hidden", name="page_ids")]
        shown = list(account_rows(html))
        assert ids == [str(pk) for pk in shown]
        assert set(shown) <= {a.pk for a in console["accounts"].values()}
        assert len(shown) == (4 if number == 1 else 2)
        seen += shown
    assert sorted(seen) == sorted(a.pk for a in console["accounts"].values())

    # No pupil matches: no row, no id, the empty-table message.
    html = client.get(url, {"q": "personne-de-ce-nom"}).content.decode()
    assert account_rows(html) == {}
    assert 'name="page_ids"' not in html
    assert "Aucun élève ne correspond à ces critères." in html


def test_rows_in_english(console):
    client = console["client"]
    switched = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert switched.status_code == 302
    response = client.get(console["url"])
    assert response["Content-Language"] == "en"
    html = response.content.decode()
    found = elements(html)
    rows = account_rows(html)
    accounts = console["accounts"]

    def texts(key, cell):
        return [e.text for e in find(in_row(found, accounts[key].pk, cell), "span")]

    informed = accounts["informed"]
    expiry = paris(informed.provisional_expires_at, "%d/%m/%Y")
    assert f"expires on {expiry}" in texts("informed", PASSWORD)
    assert "Expired" in texts("expired", PASSWORD)
    assert texts("informed", STATE) == ["Not activated - informed"]
    assert texts("expired", STATE) == ["Not activated - not informed"]
    assert texts("active", STATE) == ["Activated"]
    assert texts("deactivated", STATE) == ["Deactivated"]
    assert texts("informed", EMAIL) == ["Not provided"]
    assert texts("active", EMAIL) == ["Confirmed"]
    assert texts("deactivated", EMAIL) == ["Not confirmed"]
    until = paris(console["until"], "%d/%m %H:%M")
    nasty = accounts["nasty"]
    assert f"Blocked until {until}" in texts("nasty", STATE)
    button = one(find(in_row(found, nasty.pk, STATE), "button"))
    assert button.text == " ".join(f"Unlock {nasty.student.full_name}".split())
    for key, account in accounts.items():
        label = one(find(in_row(found, account.pk, SELECT), "label"))
        assert label.text == " ".join(f"Select {account.student.full_name}".split())
        if key != "deactivated":
            link = one(find(in_row(found, account.pk), "a", cls="ec-reset"))
            assert link.text == "Reset password"
    every_cell = " ".join(" ".join(cells) for cells in rows.values())
    every_cell += " ".join(e.text for e in found if e.row is not None)
    for french in (
        "Expiré",
        "expire le",
        "Bloqué",
        "Débloquer",
        "Confirmée",
        "Non confirmée",
        "Non renseigné",
        "Réinitialiser",
        "Sélectionner",
        "Non activé",
        "Activé",
        "Désactivé",
    ):
        assert french not in every_cell, french


# --- 2. FastSelect -----------------------------------------------------------------------------

FLAT = [
    ("", "Tous"),
    (1, "3EME & <GEN>"),
    ("1", "doublon de 1"),
    ("x\"y'<z>", 'l\'élève "A&B"'),
    (None, "sans valeur"),
    (0, "zéro"),
    ("é/ç", "accents"),
]


@pytest.mark.parametrize(
    "value", [None, "", "1", 1, ["1"], 0, "0", "x\"y'<z>", "é/ç", "absent", ["absent"]]
)
@pytest.mark.parametrize(
    "attrs",
    [
        None,
        {"id": "id_mef"},
        {"id": "id_mef", "required": True, "disabled": False, "data-x": 'a"b&c', "class": "fr"},
    ],
)
def test_fast_select_renders_flat_choices_like_django_select(value, attrs):
    fast = FastSelect(choices=FLAT, attrs={"class": "fr-select"})
    django = forms.Select(choices=FLAT, attrs={"class": "fr-select"})
    ours = fast.render("mef", value, attrs)
    theirs = django.render("mef", value, attrs)
    assert parse_html(ours) == parse_html(theirs)
    # The same options in the same order, the first match only selected.
    assert _options(ours) == _options(theirs)
    assert _selected(ours) <= 1
    assert "<GEN>" not in ours and "'<z>" not in ours


def _options(html: str) -> list[tuple[str | None, str, bool]]:
    """(value, label, selected) of each option, in order."""
    return [
        (e.attrs.get("value"), e.text, "selected" in e.attrs)
        for e in find(elements(html), "option")
    ]


def _selected(html: str) -> int:
    return sum(selected for _value, _label, selected in _options(html))


def test_fast_select_marks_only_the_first_matching_option():
    html = FastSelect(choices=FLAT).render("mef", "1")
    selected = [e for e in find(elements(html), "option") if "selected" in e.attrs]
    assert [(e.attrs["value"], e.text) for e in selected] == [("1", "3EME & <GEN>")]


def test_fast_select_with_lazy_labels_and_an_empty_list():
    from django.utils.translation import gettext_lazy

    choices = [("", gettext_lazy("Tous"))]
    assert parse_html(FastSelect(choices=choices).render("m", None)) == parse_html(
        forms.Select(choices=choices).render("m", None)
    )
    assert parse_html(FastSelect(choices=[]).render("m", None, {"id": "i"})) == parse_html(
        forms.Select(choices=[]).render("m", None, {"id": "i"})
    )


@pytest.mark.parametrize(
    "choices",
    [
        [("", "Tous"), ("Collège & <cycle 4>", [(1, "3EME"), (2, "4EME <b>")]), (3, "Autre")],
        {'Groupe "A"': {"a": "A & a"}, "b": "B"},
        [("G1", ((1, "un"), (2, "deux"))), ("G2", [(1, "un encore")])],
    ],
)
@pytest.mark.parametrize("value", [None, 1, "1", "a", 2])
def test_fast_select_falls_back_to_django_for_option_groups(choices, value):
    attrs = {"id": "id_g", "required": True}
    ours = FastSelect(choices=choices).render("g", value, attrs)
    theirs = forms.Select(choices=choices).render("g", value, attrs)
    assert ours == theirs
    assert "<optgroup" in ours


def test_search_form_fields_render_like_django_select(college):
    mefs = [MefFactory(label="3EME & <GEN>"), MefFactory(label="4EME")]
    divisions = [DivisionFactory(establishment=college, code=c) for c in ("3A", "3<B>")]
    data = {"mef": str(mefs[1].pk), "classe": str(divisions[1].pk), "etat": "active"}
    for bound in (None, data):
        form = PupilSearchForm(bound, mefs=mefs, divisions=divisions)
        for name in ("mef", "classe", "etat"):
            field = form.fields[name]
            assert isinstance(field.widget, FastSelect)
            ours = str(form[name])
            field.widget = forms.Select(choices=field.choices, attrs=field.widget.attrs)
            theirs = str(form[name])
            assert parse_html(ours) == parse_html(theirs), name
            assert f'id="id_{name}"' in ours
            if bound:
                assert _selected(ours) == 1


def test_fast_select_does_not_escape_a_label_marked_safe_twice():
    """Django's Select leaves a label marked safe as it is (conditional_escape); the
    "same HTML" promise covers it too."""
    choices = [("1", mark_safe("Cycle 4 &amp; <em>3EME</em>"))]  # noqa: S308 - test data
    ours = FastSelect(choices=choices).render("m", "1")
    theirs = forms.Select(choices=choices).render("m", "1")
    assert parse_html(ours) == parse_html(theirs)


# --- 3. Filter lists and the rows of the search ------------------------------------------------


@pytest.fixture
def spread(college, lycee):
    """MEFs and classes in both establishments, some of them without pupils."""
    # Created out of order (and 3B in last year's classes) so that neither the ids nor an
    # index give the lists their order.
    m4 = MefFactory(label="4EME")
    m3 = MefFactory(label="3EME")
    m2 = MefFactory(label="2NDE")  # lycée only
    m6 = MefFactory(label="6EME")  # nobody
    last_year = school_year_of(timezone.localdate()) - 1
    d3b = DivisionFactory(establishment=college, code="3B", school_year=last_year)
    d3a = DivisionFactory(establishment=college, code="3A")
    d10 = DivisionFactory(establishment=college, code="10A")
    empty = DivisionFactory(establishment=college, code="4Z")  # no pupil
    d2a = DivisionFactory(establishment=lycee, code="2A")
    p = {
        "zoe": make_pupil(college, division=d3b, mef=m4),
        "leo": make_pupil(
            college,
            first_name="Léo",
            last_name="Martin",
            division=d3a,
            mef=m3,
            state=AccountState.NOT_INFORMED,
        ),
        "ines": make_pupil(
            college,
            first_name="Inès",
            last_name="Lefebvre",
            division=d3a,
            mef=m3,
            state=AccountState.ACTIVE,
        ),
        "noa": make_pupil(
            college,
            first_name="Noa",
            last_name="Abadie",
            division=d10,
            state=AccountState.DEACTIVATED,
        ),
        "sam": make_pupil(college, first_name="Sam", last_name="Zidane"),  # no class, no MEF
        "lou": make_pupil(lycee, first_name="Lou", last_name="Martin", division=d2a, mef=m2),
    }
    return {
        "mefs": {"3": m3, "4": m4, "2": m2, "6": m6},
        "divisions": {"3A": d3a, "3B": d3b, "10A": d10, "4Z": empty, "2A": d2a},
        "pupils": {k: a for k, (a, _p) in p.items()},
    }


def test_filter_choices_list_what_the_establishments_pupils_are_in(
    college, lycee, quick_delegate, quick_other_head, spread
):
    mefs, divisions = selectors.filter_choices(quick_delegate, college)
    assert [(m.pk, m.label) for m in mefs] == [
        (spread["mefs"]["3"].pk, "3EME"),
        (spread["mefs"]["4"].pk, "4EME"),
    ]
    d = spread["divisions"]
    assert [(x.pk, x.code) for x in divisions] == [
        (d["10A"].pk, "10A"),
        (d["3A"].pk, "3A"),
        (d["3B"].pk, "3B"),
    ]
    mefs, divisions = selectors.filter_choices(quick_other_head, lycee)
    assert [(m.pk, m.label) for m in mefs] == [(spread["mefs"]["2"].pk, "2NDE")]
    assert [(x.pk, x.code) for x in divisions] == [(d["2A"].pk, "2A")]
    # The lists still need the right on the establishment.
    with pytest.raises(PermissionDenied):
        selectors.filter_choices(quick_other_head, college)


def test_filter_choices_of_an_establishment_without_pupils(college, quick_delegate):
    MefFactory(label="3EME")
    DivisionFactory(establishment=college, code="3A")
    assert selectors.filter_choices(quick_delegate, college) == ([], [])


def test_filter_choices_read_in_one_query_besides_the_rights(college, quick_delegate, spread):
    with CaptureQueriesContext(connection) as queries:
        selectors.filter_choices(quick_delegate, college)
    assert len(queries) == 2, [q["sql"] for q in queries]


def test_filter_lists_on_the_page(college, quick_delegate, spread):
    html = signed_in(quick_delegate).get(reverse("depannage:pupils", args=[college.uai]))
    found = elements(html.content.decode())

    def options(select_id):
        select = one(find(found, "select", id=select_id))
        at = found.index(select)
        following = found[at + 1 :]
        end = next(
            (i for i, e in enumerate(following) if e.tag not in ("option", "optgroup")),
            len(following),
        )
        return [(e.attrs["value"], e.text) for e in following[:end]]

    m, d = spread["mefs"], spread["divisions"]
    assert options("id_mef") == [("", "Tous"), (str(m["3"].pk), "3EME"), (str(m["4"].pk), "4EME")]
    assert options("id_classe") == [
        ("", "Toutes"),
        (str(d["10A"].pk), "10A"),
        (str(d["3A"].pk), "3A"),
        (str(d["3B"].pk), "3B"),
    ]


def _first_names(agent, establishment, **filters) -> list[str]:
    found = selectors.search_pupils(agent, establishment, selectors.PupilFilters(**filters))
    return [s.first_name for s in found]


def test_search_filters_and_sorts(college, quick_delegate, spread):
    m, d = spread["mefs"], spread["divisions"]
    agent = quick_delegate
    assert _first_names(agent, college) == ["Noa", "Inès", "Léo", "Zoé", "Sam"]
    assert _first_names(agent, college, sort="-nom") == ["Sam", "Zoé", "Léo", "Inès", "Noa"]
    assert _first_names(agent, college, query="martin") == ["Léo"]  # not the lycée's Lou
    assert _first_names(agent, college, query="LEF") == ["Inès", "Zoé"]
    assert _first_names(agent, college, mef=m["3"].pk) == ["Inès", "Léo"]
    assert _first_names(agent, college, mef=m["2"].pk) == []
    assert _first_names(agent, college, division=d["3A"].pk) == ["Inès", "Léo"]
    assert _first_names(agent, college, division=d["2A"].pk) == []
    assert _first_names(agent, college, state=AccountState.ACTIVE) == ["Inès"]
    assert _first_names(agent, college, state=AccountState.DEACTIVATED) == ["Noa"]
    assert _first_names(agent, college, state="bogus") == ["Noa", "Inès", "Léo", "Zoé", "Sam"]
    assert _first_names(agent, college, query="e", division=d["3A"].pk, state="active") == ["Inès"]
    classes = _first_names(agent, college, sort="classe")
    # By class code (nulls where the database puts them), then by name within a class.
    assert [n for n in classes if n != "Sam"] == ["Noa", "Inès", "Léo", "Zoé"]
    reverse_classes = _first_names(agent, college, sort="-classe")
    assert [n for n in reverse_classes if n != "Sam"] == ["Zoé", "Inès", "Léo", "Noa"]
    with pytest.raises(PermissionDenied):
        _first_names(AgentFactory(username="nobody", quick=True), college)


def test_search_rows_carry_the_lock_of_their_account(college, quick_delegate, spread):
    pupils = spread["pupils"]
    now = timezone.now()
    until = now + datetime.timedelta(hours=2)
    zoe_pair = f"pair:u{pupils['zoe'].user_id}:{HERE}"
    _lock(pupils["zoe"].user_id, until - datetime.timedelta(hours=1), key=zoe_pair)
    _lock(pupils["zoe"].user_id, until)
    _lock(pupils["leo"].user_id, now - datetime.timedelta(seconds=5))  # over
    _lock(pupils["lou"].user_id, until)  # another establishment's pupil
    ThrottleCounter.objects.create(
        key=f"address:{HERE}", kind="address", ip=HERE, window_start=now, locked_until=until
    )
    rows = selectors.search_pupils(quick_delegate, college, selectors.PupilFilters())
    blocked = {s.account.pk: s.blocked_until for s in rows}
    assert blocked == {
        pupils["zoe"].pk: until,
        pupils["leo"].pk: None,
        pupils["ines"].pk: None,
        pupils["noa"].pk: None,
        pupils["sam"].pk: None,
    }
    # The same answer as the function the consoles used before.
    assert throttling.blocked_until([a.user_id for a in pupils.values()]) == {
        pupils["zoe"].user_id: until,
        pupils["lou"].user_id: until,
    }
    # And through filters and the count of a page.
    filtered = selectors.search_pupils(
        quick_delegate, college, selectors.PupilFilters(query="lefevre", state="informed")
    )
    assert [(s.first_name, s.blocked_until) for s in filtered] == [("Zoé", until)]
    assert filtered.count() == 1


def test_search_rows_hold_every_listed_value_in_one_query(college, quick_delegate, spread):
    qs = selectors.search_pupils(quick_delegate, college, selectors.PupilFilters())
    with CaptureQueriesContext(connection) as queries:
        values = [
            (
                s.full_name,
                s.last_name,
                s.division_code,
                s.account.pk,
                s.identifier,
                s.account.state,
                s.account.email,
                s.account.email_confirmed,
                s.account.provisional_expires_at,
                s.account.provisional_issued_at,
                s.account.activated_at,
                services.provisional_password(s.account),
                services.provisional_expired(s.account),
                s.blocked_until,
            )
            for s in qs
        ]
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert len(values) == 5
    zoe = spread["pupils"]["zoe"]
    row = next(v for v in values if v[3] == zoe.pk)
    assert row[2] == "3B" and row[4] == zoe.identifier and row[5] == AccountState.INFORMED


def test_the_count_on_the_page_is_the_number_of_rows(college, quick_delegate, spread, settings):
    settings.EDUCOMPTE_PAGE_SIZE = 2
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    d = spread["divisions"]
    for filters, expected in (
        ({}, 5),
        ({"etat": "informed"}, 2),
        ({"etat": "deactivated"}, 1),
        ({"classe": d["3A"].pk}, 2),
        ({"q": "zidane"}, 1),
        ({"q": "lou"}, 0),
    ):
        first = client.get(url, filters).content.decode()
        count = re.search(r'id="result-count"><strong>(\d+)</strong>', first)
        assert count, filters
        ids = []
        pages = max(1, -(-expected // 2))
        for number in range(1, pages + 1):
            page = client.get(url, {**filters, "page": number}).content.decode()
            ids += list(account_rows(page))
        assert int(count.group(1)) == len(ids) == len(set(ids)) == expected, filters


# --- 4. Rights read in one query ---------------------------------------------------------------


def _assign(agent, establishment, **kwargs) -> None:
    Assignment.objects.create(
        agent=agent, establishment=establishment, role=Assignment.Role.HEAD, **kwargs
    )


def _delegate(agent, establishment, right, **kwargs) -> None:
    today = timezone.localdate()
    kwargs.setdefault("start", today)
    kwargs.setdefault("end", today + datetime.timedelta(days=30))
    Delegation.objects.create(agent=agent, establishment=establishment, right=right, **kwargs)


def test_grants_of_heads_and_delegations(college, lycee, quick_head, quick_delegate):
    third = EstablishmentFactory(name="Collège Trois")
    assert authz.grants(quick_head) == {college.pk: set(authz.HEAD_RIGHTS)}
    assert authz.grants(quick_delegate) == {college.pk: {Right.DEPANNAGE}}

    # Administration implies dépannage; several delegations and a headship add up.
    _delegate(quick_delegate, lycee, Right.ADMINISTRATION)
    _delegate(quick_delegate, third, Right.DEPANNAGE)
    _assign(quick_delegate, third)
    assert authz.grants(quick_delegate) == {
        college.pk: {Right.DEPANNAGE},
        lycee.pk: {Right.ADMINISTRATION, Right.DEPANNAGE},
        third.pk: set(authz.HEAD_RIGHTS),
    }
    # A head who also holds a delegation keeps every right of a head.
    _delegate(quick_head, college, Right.DEPANNAGE)
    assert authz.grants(quick_head) == {college.pk: set(authz.HEAD_RIGHTS)}

    assert authz.has_right(quick_head, authz.MANAGE_DELEGATIONS, college)
    assert authz.has_right(quick_head, Right.ADMINISTRATION, college)
    assert not authz.has_right(quick_head, Right.DEPANNAGE, lycee)
    assert authz.has_right(quick_delegate, Right.DEPANNAGE, lycee)
    assert authz.has_right(quick_delegate, Right.ADMINISTRATION, lycee)
    assert not authz.has_right(quick_delegate, Right.ADMINISTRATION, college)
    assert not authz.has_right(quick_delegate, authz.MANAGE_DELEGATIONS, lycee)
    assert authz.is_head(quick_delegate, third)


def test_grants_leave_out_what_is_over_or_not_yet_or_closed(college, lycee):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    closed = EstablishmentFactory(name="Collège fermé")
    Establishment.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    agent = AgentFactory(username="agent-historique", quick=True)

    _assign(agent, college, start=today - 30 * day, end=today - day)  # ended
    _assign(agent, lycee, start=today + day)  # not yet
    _assign(agent, closed)  # closed establishment
    Assignment.objects.create(agent=agent, establishment=college, role=Assignment.Role.STAFF)
    _delegate(agent, college, Right.ADMINISTRATION, start=today - 30 * day, end=today - day)
    _delegate(agent, college, Right.DEPANNAGE, revoked_at=timezone.now())
    _delegate(agent, lycee, Right.ADMINISTRATION, start=today + day)
    _delegate(agent, closed, Right.DEPANNAGE)
    assert authz.grants(agent) == {}
    for establishment in (college, lycee, closed):
        for right in (Right.DEPANNAGE, Right.ADMINISTRATION, authz.MANAGE_DELEGATIONS):
            assert not authz.has_right(agent, right, establishment)

    # The last day counts; a headship without an end lasts.
    _delegate(agent, lycee, Right.DEPANNAGE, start=today - day, end=today)
    _assign(agent, EstablishmentFactory(), start=today - day)
    grants = authz.grants(agent)
    assert grants[lycee.pk] == {Right.DEPANNAGE}
    assert len(grants) == 2
    # Another day: what had ended, or not begun yet, is read for that day.
    assert authz.grants(agent, today=today - 2 * day)[college.pk] == set(authz.HEAD_RIGHTS) | {
        Right.ADMINISTRATION
    }
    assert authz.grants(agent, today=today + day)[lycee.pk] == set(authz.HEAD_RIGHTS)


def test_grants_of_non_agents_and_in_one_query(college, quick_head, zoe):
    account, _password = zoe
    assert authz.grants(account.user) == {}
    inactive = AgentFactory(username="parti", is_active=False, quick=True)
    _assign(inactive, college)
    assert authz.grants(inactive) == {}
    with CaptureQueriesContext(connection) as queries:
        authz.grants(quick_head)
    assert len(queries) == 1


# --- 5. Sign-in: the pair counter and its DELETE -----------------------------------------------


def _throttle_deletes(queries) -> list[str]:
    table = ThrottleCounter._meta.db_table
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("DELETE") and table in q["sql"]
    ]


def _pair_exists(account, ip) -> bool:
    return ThrottleCounter.objects.filter(key=f"pair:u{account.user_id}:{ip}").exists()


def test_check_reports_failures_of_this_account_from_this_address(zoe, lycee):
    account, _password = zoe
    uid = account.user_id
    first = throttling.check(uid, HERE)
    assert first.allowed and not first.pair_failures
    assert first == throttling.ALLOWED

    assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    here = throttling.check(uid, HERE)
    assert here.allowed and here.pair_failures and here.retry_at is None
    # From another address: the account counter exists, but no failure of that pair.
    elsewhere = throttling.check(uid, ELSEWHERE)
    assert elsewhere.allowed and not elsewhere.pair_failures
    # Another account from the same address: the address counter only.
    other, _ = make_pupil(lycee, first_name="Lou", last_name="Martin")
    assert not throttling.check(other.user_id, HERE).pair_failures

    for _ in range(throttling.FREE_FAILURES - 1):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE)
    locked = throttling.check(uid, HERE)
    assert not locked.allowed
    assert locked.reason == "pair" and locked.retry_at > timezone.now()
    assert locked.pair_failures
    assert throttling.check(uid, ELSEWHERE).allowed

    # A lock that is over still counts as failures to clear.
    later = timezone.now() + datetime.timedelta(hours=2)
    over = throttling.check(uid, HERE, later)
    assert over.allowed and over.pair_failures


def test_check_of_an_unknown_name(db):
    assert not throttling.check(None, HERE, name="personne").pair_failures
    services.sign_in_pupil("personne", WRONG, ip=HERE)
    verdict = throttling.check(None, HERE, name="personne")
    assert verdict.allowed and verdict.pair_failures
    assert not throttling.check(None, HERE, name="quelquun").pair_failures


def test_a_right_password_clears_the_pair_counter(zoe):
    account, provisional = zoe
    for _ in range(3):
        assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE)
    assert _pair_exists(account, HERE)

    with CaptureQueriesContext(connection) as queries:
        right = services.sign_in_pupil(account.identifier, provisional, ip=HERE)
    assert right.outcome is SignIn.ACTIVATE
    assert len(_throttle_deletes(queries)) == 1
    assert not _pair_exists(account, HERE)
    # Only this address's consecutive failures: the other address and the daily count stay.
    assert _pair_exists(account, ELSEWHERE)
    assert ThrottleCounter.objects.filter(key=f"account:u{account.user_id}").exists()

    # Counting starts again from zero: four failures are free, the fifth locks.
    for _ in range(throttling.FREE_FAILURES - 1):
        assert services.sign_in_pupil(account.identifier, WRONG, ip=HERE).outcome is SignIn.FAILED
    fifth = services.sign_in_pupil(account.identifier, WRONG, ip=HERE)
    assert fifth.outcome is SignIn.LOCKED
    # Whereas the other address had kept its failure: its fifth comes one earlier.
    for _ in range(throttling.FREE_FAILURES - 2):
        assert (
            services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is SignIn.FAILED
        )
    assert services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE).outcome is (
        SignIn.LOCKED
    )


def test_a_right_password_after_the_lock_ended_clears_the_pair_counter(zoe):
    account, provisional = zoe
    now = timezone.now()
    for _ in range(throttling.FREE_FAILURES):
        services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=now)
    later = now + datetime.timedelta(minutes=1)
    assert services.sign_in_pupil(account.identifier, provisional, ip=HERE, now=later).outcome is (
        SignIn.ACTIVATE
    )
    assert not _pair_exists(account, HERE)
    for _ in range(throttling.FREE_FAILURES - 1):
        outcome = services.sign_in_pupil(account.identifier, WRONG, ip=HERE, now=later).outcome
        assert outcome is SignIn.FAILED


def test_a_sign_in_without_earlier_failures_deletes_nothing(zoe):
    account, provisional = zoe
    with CaptureQueriesContext(connection) as queries:
        result = services.sign_in_pupil(account.identifier, provisional, ip=HERE)
    assert result.outcome is SignIn.ACTIVATE
    assert _throttle_deletes(queries) == []
    assert not [q for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]

    # Failures from another address only: still nothing of this pair to delete.
    services.sign_in_pupil(account.identifier, WRONG, ip=ELSEWHERE)
    with CaptureQueriesContext(connection) as queries:
        assert services.sign_in_pupil(account.identifier, provisional, ip=HERE).outcome is (
            SignIn.ACTIVATE
        )
    assert _throttle_deletes(queries) == []
    assert _pair_exists(account, ELSEWHERE)


def test_record_success_without_a_verdict_still_deletes(zoe):
    account, _password = zoe
    throttling.record_failure(account.user_id, HERE)
    assert _pair_exists(account, HERE)
    throttling.record_success(account.user_id, HERE)
    assert not _pair_exists(account, HERE)
    throttling.record_failure(account.user_id, HERE)
    throttling.record_success(account.user_id, HERE, throttling.check(account.user_id, HERE))
    assert not _pair_exists(account, HERE)
    # A verdict that saw no failures of the pair skips the statement.
    throttling.record_failure(account.user_id, HERE)
    with CaptureQueriesContext(connection) as queries:
        throttling.record_success(account.user_id, HERE, throttling.ALLOWED)
    assert len(queries) == 0
    assert _pair_exists(account, HERE)


def test_staff_sign_in_clears_its_pair_counter_too(db):
    agent = AgentFactory(username="agent-signin")
    for _ in range(3):
        assert sign_in_agent("agent-signin", WRONG, ip=HERE).agent is None
    assert ThrottleCounter.objects.filter(key=f"pair:u{agent.pk}:{HERE}").exists()
    assert sign_in_agent("agent-signin", AGENT_PASSWORD, ip=HERE).agent == agent
    assert not ThrottleCounter.objects.filter(key=f"pair:u{agent.pk}:{HERE}").exists()
    with CaptureQueriesContext(connection) as queries:
        assert sign_in_agent("agent-signin", AGENT_PASSWORD, ip=HERE).agent == agent
    assert _throttle_deletes(queries) == []
    for _ in range(throttling.FREE_FAILURES - 1):
        assert sign_in_agent("agent-signin", WRONG, ip=HERE).retry_at is None
    assert sign_in_agent("agent-signin", WRONG, ip=HERE).retry_at is not None


@pytest.mark.django_db(transaction=True)
def test_pupil_sign_in_through_the_page_takes_four_statements(college):
    account, _provisional = make_pupil(college)
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE
    credentials = {"username": account.identifier, "password": CHOSEN}
    url = reverse("pupil:login")
    client = new_client()
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, credentials)
    assert response.status_code == 302, response.content.decode()[:500]
    statements = [q["sql"] for q in queries]
    assert len(statements) <= 4, "\n".join(statements)
    assert _throttle_deletes(queries) == []
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    session = Session.objects.get(session_key=key)
    assert session.get_decoded()["_auth_user_id"] == str(account.user_id)
    assert client.get(reverse("pupil:services")).status_code == 200

    # With failures of this pair first, the sign-in clears them (one statement more).
    other = new_client()
    other.post(url, {**credentials, "password": WRONG})
    assert ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()
    with CaptureQueriesContext(connection) as queries:
        response = other.post(url, credentials)
    assert response.status_code == 302
    assert len(_throttle_deletes(queries)) == 1
    assert not ThrottleCounter.objects.filter(key__startswith=f"pair:u{account.user_id}:").exists()


# --- 6. Sessions in autocommit mode ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_session_created_and_updated_in_autocommit_mode():
    assert connection.get_autocommit() and not connection.in_atomic_block
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    assert key and len(key) == 32
    assert SessionStore(key).load() == {"a": 1}

    session["a"] = 2
    session["b"] = "deux"
    with CaptureQueriesContext(connection) as queries:
        session.save()
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].lstrip().upper().startswith("UPDATE")
    assert session.session_key == key
    assert SessionStore(key).load() == {"a": 2, "b": "deux"}
    assert Session.objects.count() == 1

    # A new session is one INSERT.
    fresh = SessionStore()
    fresh["c"] = 3
    with CaptureQueriesContext(connection) as queries:
        fresh.save()
    assert [q["sql"].lstrip().upper()[:6] for q in queries] == ["INSERT"]
    assert Session.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_must_create_on_an_existing_key_raises_create_error():
    session = SessionStore()
    session["a"] = 1
    session.save()
    clash = SessionStore(session.session_key)
    clash["b"] = 2
    with pytest.raises(CreateError):
        clash.save(must_create=True)
    # The stored session is untouched and the connection still works.
    assert SessionStore(session.session_key).load() == {"a": 1}
    assert Session.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_updating_a_deleted_session_raises_update_error():
    session = SessionStore()
    session["a"] = 1
    session.save()
    Session.objects.filter(session_key=session.session_key).delete()
    session["a"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_key_collision_in_autocommit_mode_draws_another_key(monkeypatch):
    taken = SessionStore()
    taken["a"] = 1
    taken.save()
    keys = iter([taken.session_key, "c" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    session = SessionStore()
    session["b"] = 2
    session.save()
    assert session.session_key == "c" * 32
    assert SessionStore(taken.session_key).load() == {"a": 1}
    assert SessionStore("c" * 32).load() == {"b": 2}


@pytest.mark.django_db
def test_session_errors_inside_a_transaction_too():
    with transaction.atomic():
        session = SessionStore()
        session["a"] = 1
        session.save()
        clash = SessionStore(session.session_key)
        clash["b"] = 2
        with pytest.raises(CreateError):
            clash.save(must_create=True)
        Session.objects.filter(session_key=session.session_key).delete()
        session["a"] = 2
        with pytest.raises(UpdateError):
            session.save()
        # The outer transaction survived both errors.
        assert not Session.objects.exists()


# --- 7. The Dépannage page's queries do not grow with its rows ---------------------------------


def _fill(college, start: int, count: int, divisions, mefs) -> None:
    """Pupils in every state, some with a class, an e-mail, an expired password or a lock."""
    states = list(AccountState.values)
    now = timezone.now()
    for i in range(start, start + count):
        account, _password = make_pupil(
            college,
            first_name=f"Prénom{i}",
            last_name=f"Nom{i:03d}",
            division=divisions[i % len(divisions)] if i % 5 else None,
            mef=mefs[i % len(mefs)],
            state=states[i % len(states)],
        )
        if i % 3 == 0:
            StudentAccount.objects.filter(pk=account.pk).update(
                email=f"eleve{i}@example.org", email_confirmed=bool(i % 2)
            )
        if i % 7 == 0:
            StudentAccount.objects.filter(pk=account.pk).update(
                provisional_expires_at=now - datetime.timedelta(days=1)
            )
        if i % 4 == 0:
            _lock(account.user_id, now + datetime.timedelta(hours=1 + i % 3))


def test_depannage_page_queries_do_not_depend_on_the_number_of_pupils(
    college, quick_delegate, settings
):
    assert settings.EDUCOMPTE_PAGE_SIZE == 50
    divisions = [DivisionFactory(establishment=college, code=c) for c in ("3A", "3B", "4A")]
    mefs = [MefFactory(label="3EME"), MefFactory(label="4EME")]
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])

    def measure(params=None) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params or {})
        assert response.status_code == 200
        return len(queries), response.content.decode()

    _fill(college, 0, 5, divisions, mefs)
    client.get(url)  # the first request of the client
    few, html = measure()
    assert len(account_rows(html)) == 5
    assert "Bloqué jusqu" in html and "Expiré" in html and "Confirmée" in html

    _fill(college, 5, 55, divisions, mefs)
    many, html = measure()
    assert len(account_rows(html)) == 50
    assert re.search(r'id="result-count"><strong>60</strong>', html)
    second_page, html = measure({"page": 2})
    assert len(account_rows(html)) == 10
    filtered, html = measure({"etat": AccountState.INFORMED, "classe": divisions[0].pk})
    assert account_rows(html)

    assert few <= 9
    assert many == few
    assert second_page == few
    assert filtered <= 9
