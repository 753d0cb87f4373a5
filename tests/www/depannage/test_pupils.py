"""Dépannage, the pupils page: search, filters, sorting, pagination, columns, and a
number of queries that does not depend on the number of pupils."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from educompte.pupils import selectors
from educompte.pupils.models import AccountState, StudentAccount
from tests.factories import DivisionFactory, MefFactory, make_pupil
from tests.helpers import lock_account, signed_in
from tests.html_helpers import account_rows, elements, find, one, table_headers

# --- Search, filters, sorting, pagination --------------------------------------------------


def _names(agent, college, **filters) -> list[str]:
    found = selectors.search_pupils(agent, college, selectors.PupilFilters(**filters))
    return [s.first_name for s in found]


@pytest.mark.django_db
def test_search_through_the_page(college, quick_delegate, classes):
    zoe_account = classes["pupils"]["zoe"][0]
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    for query in ("lefevre", "LEFÈVRE", "n'guyen", "nguyen", "guyen-lef"):
        rows = account_rows(client.get(url, {"q": query}).content.decode())
        assert list(rows) == [zoe_account.pk], query


@pytest.mark.django_db
def test_filters_by_mef_class_and_state(college, quick_delegate, classes):
    assert _names(quick_delegate, college, mef=classes["mef3"].pk) == ["Inès", "Léo", "Zoé"]
    assert _names(quick_delegate, college, mef=classes["mef4"].pk) == ["Hugo"]
    assert _names(quick_delegate, college, division=classes["3A"].pk) == ["Léo", "Zoé"]
    assert _names(quick_delegate, college, state=AccountState.ACTIVE) == ["Hugo"]
    assert _names(quick_delegate, college, state=AccountState.INFORMED) == ["Zoé"]
    assert _names(
        quick_delegate, college, division=classes["3A"].pk, state=AccountState.NOT_INFORMED
    ) == ["Léo"]
    # And through the page's form.
    client = signed_in(quick_delegate)
    page = client.get(
        reverse("depannage:pupils", args=[college.uai]),
        {"classe": classes["3A"].pk, "etat": AccountState.INFORMED},
    )
    assert list(account_rows(page.content.decode())) == [classes["pupils"]["zoe"][0].pk]


@pytest.mark.django_db
def test_sorting_by_name_and_class(college, quick_delegate, classes):
    assert _names(quick_delegate, college, sort="nom") == ["Hugo", "Inès", "Léo", "Zoé"]
    assert _names(quick_delegate, college, sort="-nom") == ["Zoé", "Léo", "Inès", "Hugo"]
    assert _names(quick_delegate, college, sort="classe") == ["Léo", "Zoé", "Inès", "Hugo"]
    assert _names(quick_delegate, college, sort="-classe") == ["Hugo", "Inès", "Léo", "Zoé"]
    client = signed_in(quick_delegate)
    page = client.get(reverse("depannage:pupils", args=[college.uai]), {"tri": "-nom"})
    ids = list(account_rows(page.content.decode()))
    pupils = classes["pupils"]
    assert ids == [pupils[k][0].pk for k in ("zoe", "leo", "ines", "hugo")]


@pytest.mark.django_db
def test_pagination_and_count(college, quick_delegate, classes, settings):
    settings.EDUCOMPTE_PAGE_SIZE = 3
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    first = client.get(url).content.decode()
    second = client.get(url, {"page": 2}).content.decode()
    assert len(account_rows(first)) == 3
    assert len(account_rows(second)) == 1
    assert set(account_rows(first)).isdisjoint(account_rows(second))
    assert re.search(r'id="result-count"><strong>4</strong> élèves', first)
    filtered = client.get(url, {"classe": classes["3A"].pk}).content.decode()
    assert re.search(r'id="result-count"><strong>2</strong> élèves', filtered)


# --- The Dépannage table -------------------------------------------------------------------


@pytest.mark.django_db
def test_console_columns_and_cells(college, quick_delegate, classes):
    pupils = classes["pupils"]
    zoe_account, zoe_password = pupils["zoe"]
    hugo_account, hugo_old_password = pupils["hugo"]
    page = signed_in(quick_delegate).get(reverse("depannage:pupils", args=[college.uai]))
    html = page.content.decode()
    headers = table_headers(html)
    for column in ("Élève", "Classe", "Identifiant", "Mot de passe", "État du compte", "Mail"):
        assert column in headers
    rows = account_rows(html)
    index = {h: i for i, h in enumerate(headers)}
    zoe_row = rows[zoe_account.pk]
    assert "N'Guyen-Lefèvre" in zoe_row[index["Élève"]]
    assert zoe_row[index["Classe"]] == "3A"
    assert zoe_row[index["Identifiant"]] == zoe_account.identifier
    assert zoe_password in zoe_row[index["Mot de passe"]]
    assert zoe_row[index["État du compte"]] == "Non activé - informé"
    assert zoe_row[index["Mail"]] == "Non renseigné"
    hugo_row = rows[hugo_account.pk]
    # An activated account shows no password, even with an old ciphertext still stored.
    assert hugo_row[index["Mot de passe"]] == ""
    assert hugo_old_password not in html
    assert hugo_row[index["État du compte"]] == "Activé"
    assert hugo_row[index["Mail"]].startswith("hugo@example.org")


ADDRESS = "zoe.famille@example.org"


@pytest.mark.usefixtures("locmem_mail")
def test_depannage_mail_column(college, quick_delegate, recoverable):
    unconfirmed, _pw = make_pupil(college, first_name="Hugo", last_name="Martin")
    StudentAccount.objects.filter(pk=unconfirmed.pk).update(email="hugo@example.org")
    nothing, _pw = make_pupil(college, first_name="Inès", last_name="Bernard")
    page = signed_in(quick_delegate).get(reverse("depannage:pupils", args=[college.uai]))
    headers = table_headers(page.text)
    rows = account_rows(page.text)
    column = headers.index("Mail")
    # The address, then its state (the cell's texts are joined without a space).
    assert rows[recoverable.pk][column].partition(ADDRESS) == ("", ADDRESS, "Confirmée")
    assert rows[unconfirmed.pk][column].partition("hugo@example.org") == (
        "",
        "hugo@example.org",
        "Non confirmée",
    )
    assert rows[nothing.pk][column] == "Non renseigné"


# --- Filter lists and the rows of the search ------------------------------------------------


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


# --- The Dépannage page's queries do not grow with its rows ---------------------------------


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
            lock_account(account.user_id, now + datetime.timedelta(hours=1 + i % 3))


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
