"""educompte/www/pupil_table.py: the consoles' pupil rows written in Python (rather than by
the template) keep the behaviour they replaced: escaping, every state, locks, e-mail, English.

Only behaviour is asserted here, never timings.
"""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter, User
from educompte.pupils.models import AccountState, Student, StudentAccount
from tests.factories import DivisionFactory, EstablishmentFactory, MefFactory, make_pupil
from tests.helpers import lock_account, signed_in
from tests.html_helpers import account_rows, elements, find, in_row, one

PARIS = ZoneInfo("Europe/Paris")
BIRTH = datetime.date(2011, 3, 14)
BORN = "Naissance : 14/03/2011"
HERE = "203.0.113.9"
NASTY_LAST = "<script>alert('nom')</script> & \"Fils\""
NASTY_FIRST = 'Zoé "l\'&<b>"'
NASTY_EMAIL = "\"<script>alert('mail')</script>&\"@example.org"
NASTY_USERNAME = "zoe&<i>'\"1"
NASTY_CODE = "3<B>&'\""


# Columns of the Dépannage table.
SELECT, NAME, CLASS, IDENTIFIER, PASSWORD, STATE, EMAIL, ACTION = range(8)


def paris(value: datetime.datetime, fmt: str) -> str:
    return value.astimezone(PARIS).strftime(fmt)


# --- The Dépannage rows --------------------------------------------------------------------


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
    lock_account(accounts["nasty"].user_id, until)
    nasty_pair = f"pair:u{accounts['nasty'].user_id}:{HERE}"
    lock_account(accounts["nasty"].user_id, until - datetime.timedelta(hours=2), key=nasty_pair)
    lock_account(accounts["informed"].user_id, now - datetime.timedelta(minutes=1))
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
    # The date of birth follows the name (homonyms are told apart).
    assert cells[NAME] == " ".join(f"{NASTY_LAST} {NASTY_FIRST}".split()) + BORN
    assert one(find(row, "span", cls="ec-birth")).text == BORN
    assert one(find(row, "a", cls="ec-reset")).attrs["data-details"] == f"{NASTY_CODE} — {BORN}"
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
    assert cells[NAME] == "Aubert Alice" + BORN
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
