"""Pupil accounts: provisional passwords, resets, sign-in, activation, identifiers, search
and the Dépannage table."""

from __future__ import annotations

import datetime
import random
import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from educompte.accounts import throttling
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.pupils import identifiers, passwords, selectors, services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import SignIn
from tests.factories import DivisionFactory, MefFactory, make_head, make_pupil
from tests.helpers import assert_nowhere_in_audit, new_client, signed_in
from tests.html_helpers import account_rows, error_alerts, table_headers

pytestmark = pytest.mark.django_db

LOOK_ALIKES = set("0O1I")
ZOE_BIRTH = "14/03/2011"
CHOSEN = "Une phrase de passe solide !"
FAILED_MESSAGE = "Identifiant ou mot de passe incorrect"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


# --- Provisional passwords ---------------------------------------------------------------


def test_alphabet_has_32_symbols_without_look_alikes():
    assert len(passwords.ALPHABET) == 32
    assert set(passwords.ALPHABET) == set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    assert not LOOK_ALIKES & set(passwords.ALPHABET)


def test_generated_passwords_are_10_symbols_of_the_alphabet():
    drawn = [passwords.generate() for _ in range(500)]
    for password in drawn:
        assert len(password) == 10
        assert set(password) <= set(passwords.ALPHABET)
        assert not LOOK_ALIKES & set(password)
    assert len(set(drawn)) == len(drawn)
    # 5,000 draws: every symbol of the alphabet shows up (else the draw is biased).
    assert set("".join(drawn)) == set(passwords.ALPHABET)


def test_new_account_gets_a_well_formed_provisional_password(zoe):
    account, password = zoe
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}", password)
    assert services.provisional_password(fresh(account)) == password


def test_typed_provisional_password_ignores_case_and_spaces():
    assert passwords.matches("ABCDE23456", "abcde 23456")
    assert not passwords.matches("ABCDE23456", "ABCDE23457")


def _raw_ciphertext(account: StudentAccount) -> bytes:
    table = StudentAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT provisional_password_encrypted FROM {table} WHERE id = %s",  # noqa: S608
            [account.pk],
        )
        return bytes(cursor.fetchone()[0])


def _everything_in_the_database() -> str:
    """Every row of every table, as text (small test databases only)."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    dump.append(str(value))
    return "\n".join(dump)


def test_provisional_password_is_stored_encrypted(zoe):
    account, password = zoe
    raw = _raw_ciphertext(account)
    assert len(raw) > len(password)
    assert password.encode() not in raw
    assert password.lower().encode() not in raw
    # Nowhere else in the database either, in any table or column.
    dump = _everything_in_the_database()
    assert password not in dump
    assert password.lower() not in dump


def test_ciphertext_only_decrypts_on_its_own_account(college, zoe):
    account, password = zoe
    other, other_password = make_pupil(college, first_name="Hugo", last_name="Berthier")
    StudentAccount.objects.filter(pk=other.pk).update(
        provisional_password_encrypted=_raw_ciphertext(account)
    )
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        services.provisional_password(fresh(other))
    assert services.provisional_password(fresh(account)) == password


# --- Resets ------------------------------------------------------------------------------


def test_reset_gives_a_new_password_and_the_old_one_stops(college, quick_delegate, zoe):
    account, old = zoe
    new = services.reset_password(quick_delegate, fresh(account), ip="203.0.113.7")
    assert new != old
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}", new)
    assert services.sign_in_pupil(account.identifier, old).outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, new).outcome is SignIn.ACTIVATE
    assert fresh(account).state == AccountState.INFORMED
    assert services.provisional_password(fresh(account)) == new


def test_reset_writes_an_audit_event_without_the_password(college, quick_delegate, zoe):
    account, old = zoe
    client = signed_in(quick_delegate)
    response = client.post(
        reverse("depannage:reset", args=[college.uai, account.pk]), REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302
    new = services.provisional_password(fresh(account))
    event = AuditEvent.objects.get(action=AuditEvent.Action.PASSWORD_RESET)
    assert event.actor == quick_delegate
    assert event.actor_label == quick_delegate.username
    assert event.establishment == college
    assert event.account_id == account.pk
    assert event.subject_label == account.identifier
    assert event.ip_address == "203.0.113.7"
    assert_nowhere_in_audit(old, new)


@pytest.mark.parametrize("state", [AccountState.NOT_INFORMED, AccountState.INFORMED])
def test_reset_of_a_not_activated_account_leaves_it_informed(college, quick_delegate, state):
    account, _pw = make_pupil(college, state=state)
    services.reset_password(quick_delegate, fresh(account))
    assert fresh(account).state == AccountState.INFORMED


def test_reset_of_an_active_account_makes_the_chosen_password_stop(college, quick_delegate, zoe):
    account, provisional = zoe
    services.activate(fresh(account), new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
    new = services.reset_password(quick_delegate, fresh(account))
    account = fresh(account)
    assert account.state == AccountState.INFORMED
    assert account.activated_at is None
    assert not account.user.has_usable_password()
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, new).outcome is SignIn.ACTIVATE


def test_reset_of_a_deactivated_account_is_refused(college, quick_delegate):
    account, _pw = make_pupil(college, state=AccountState.DEACTIVATED)
    before = _raw_ciphertext(account)
    with pytest.raises(services.AccountDeactivated):
        services.reset_password(quick_delegate, fresh(account))
    assert fresh(account).state == AccountState.DEACTIVATED
    assert _raw_ciphertext(account) == before


def _activate_through_the_web(client, account, provisional) -> None:
    start = client.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start.status_code == 302
    assert start["Location"] == reverse("pupil:activate")
    done = client.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:services")


def test_reset_ends_the_session_of_a_signed_in_pupil(college, quick_delegate, zoe):
    account, provisional = zoe
    pupil = new_client()
    _activate_through_the_web(pupil, account, provisional)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    staff = signed_in(quick_delegate)
    staff.post(reverse("depannage:reset", args=[college.uai, account.pk]))
    response = pupil.get(reverse("pupil:services"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("pupil:login"))


def test_reset_during_activation_voids_the_pending_activation(college, quick_delegate, zoe):
    account, provisional = zoe
    pupil = new_client()
    start = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start["Location"] == reverse("pupil:activate")
    services.reset_password(quick_delegate, fresh(account))
    response = pupil.post(
        reverse("pupil:activate"),
        {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:login")
    assert fresh(account).state == AccountState.INFORMED
    assert not fresh(account).user.has_usable_password()


# --- Sign-in -----------------------------------------------------------------------------


def _sign_in_page(identifier: str, password: str):
    return new_client().post(reverse("pupil:login"), {"username": identifier, "password": password})


def test_wrong_password_and_unknown_identifier_get_the_same_answer(zoe):
    account, provisional = zoe
    wrong = _sign_in_page(account.identifier, "MAUVAISMDP")
    unknown = _sign_in_page("xinconnu999", provisional)
    assert wrong.status_code == unknown.status_code == 400
    assert error_alerts(wrong.content.decode()) == error_alerts(unknown.content.decode())
    assert any(FAILED_MESSAGE in alert for alert in error_alerts(wrong.content.decode()))
    assert services.sign_in_pupil("xinconnu999", provisional).outcome is SignIn.FAILED


def test_identifier_is_case_insensitive(zoe):
    account, provisional = zoe
    result = services.sign_in_pupil(f"  {account.identifier.upper()} ", provisional.lower())
    assert result.outcome is SignIn.ACTIVATE


def test_expired_provisional_password_is_refused_with_its_own_message(zoe):
    account, provisional = zoe
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.EXPIRED
    page = _sign_in_page(account.identifier, provisional)
    assert page.status_code == 400
    assert "a expiré" in page.content.decode()
    # A wrong password on an expired account says nothing about the expiry.
    assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.FAILED


def test_provisional_password_expires_after_the_configured_days(zoe, settings):
    account, _pw = zoe
    account = fresh(account)
    delta = account.provisional_expires_at - account.provisional_issued_at
    assert delta == datetime.timedelta(days=settings.EDUCOMPTE_PROVISIONAL_PASSWORD_DAYS)


def test_deactivated_account_cannot_sign_in(college):
    account, provisional = make_pupil(college, state=AccountState.DEACTIVATED)
    result = services.sign_in_pupil(account.identifier, provisional)
    assert result.outcome not in (SignIn.OK, SignIn.ACTIVATE)
    page = _sign_in_page(account.identifier, provisional)
    assert page.status_code == 400
    assert "_auth_user_id" not in page.wsgi_request.session


def test_pupil_deactivated_by_the_school_is_signed_out_and_told_so(college, zoe):
    """An activated pupil, signed in, is deactivated in Administration: the open session
    ends; the right password is refused with "Ce compte est désactivé", a wrong one gets the
    usual answer (so nobody else learns the account's state)."""
    account, provisional = zoe
    pupil = new_client()
    _activate_through_the_web(pupil, account, provisional)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    head = make_head(college, username="chef-desactivation", quick=True)
    services.deactivate(head, college, [account.pk], reason="Départ de l'établissement")
    assert fresh(account).state == AccountState.DEACTIVATED
    assert pupil.get(reverse("pupil:services")).status_code == 302
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.DEACTIVATED
    right = _sign_in_page(account.identifier, CHOSEN)
    assert right.status_code == 400
    assert "Ce compte est désactivé" in right.content.decode()
    assert "_auth_user_id" not in right.wsgi_request.session
    wrong = _sign_in_page(account.identifier, "pas-le-bon-mot-de-passe")
    assert wrong.status_code == 400
    assert "Ce compte est désactivé" not in wrong.content.decode()
    assert any(FAILED_MESSAGE in alert for alert in error_alerts(wrong.content.decode()))


def test_repeated_failures_lock_the_account(zoe):
    account, provisional = zoe
    for _ in range(throttling.FREE_FAILURES - 1):
        assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.FAILED
    assert services.sign_in_pupil(account.identifier, "AAAAAAAAAA").outcome is SignIn.LOCKED
    # Even the right password waits until the lock ends.
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.LOCKED
    later = timezone.now() + datetime.timedelta(hours=2)
    assert (
        services.sign_in_pupil(account.identifier, provisional, now=later).outcome
        is SignIn.ACTIVATE
    )


# --- Activation --------------------------------------------------------------------------


def _bad_activations(identifier: str) -> dict[str, tuple[dict, str]]:
    good = {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": ZOE_BIRTH}
    own = f"{identifier}-vacances"
    return {
        "wrong birth date": (
            {**good, "birth_date": "15/03/2011"},
            "La date de naissance ne correspond pas",
        ),
        "mismatch": ({**good, "new_password2": CHOSEN + "x"}, "ne sont pas identiques"),
        "too short": (
            {**good, "new_password1": "Ab3$xyz", "new_password2": "Ab3$xyz"},
            "trop court",
        ),
        "common azertyuiop": (
            {**good, "new_password1": "azertyuiop", "new_password2": "azertyuiop"},
            "trop courant",
        ),
        "common password123": (
            {**good, "new_password1": "password123", "new_password2": "password123"},
            "trop courant",
        ),
        "contains identifier": (
            {**good, "new_password1": own, "new_password2": own},
            "ni votre identifiant ni votre nom",
        ),
        "contains last name": (
            {
                **good,
                "new_password1": "vive-nguyen-lefevre!",
                "new_password2": "vive-nguyen-lefevre!",
            },
            "ni votre identifiant ni votre nom",
        ),
        "contains a part of the last name": (
            {
                **good,
                "new_password1": "jaime-lefevre-velo",
                "new_password2": "jaime-lefevre-velo",
            },
            "ni votre identifiant ni votre nom",
        ),
    }


BAD_CASES = list(_bad_activations("x"))


@pytest.mark.parametrize("case", BAD_CASES)
def test_activation_rejects_bad_input_and_changes_nothing(zoe, case):
    account, provisional = zoe
    data, message = _bad_activations(account.identifier)[case]
    pupil = new_client()
    start = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert start["Location"] == reverse("pupil:activate")
    before = _raw_ciphertext(account)
    response = pupil.post(reverse("pupil:activate"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    after = fresh(account)
    assert after.state == AccountState.INFORMED
    assert after.activated_at is None
    assert not after.user.has_usable_password()
    assert _raw_ciphertext(account) == before
    assert services.provisional_password(after) == provisional
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_ACTIVATED).exists()
    follow = pupil.get(reverse("pupil:services"))
    assert follow.status_code == 302  # not signed in


def test_successful_activation(zoe):
    account, provisional = zoe
    pupil = new_client()
    _activate_through_the_web(pupil, account, provisional)
    after = fresh(account)
    assert after.state == AccountState.ACTIVE
    assert after.activated_at is not None
    assert after.user.password.startswith("argon2$argon2id$")
    assert "m=19456,t=2,p=1" in after.user.password
    assert after.provisional_password_encrypted is None
    assert services.provisional_password(after) is None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ACCOUNT_ACTIVATED, account=after
    ).exists()
    assert_nowhere_in_audit(provisional, CHOSEN)
    assert pupil.get(reverse("pupil:services")).status_code == 200
    assert services.sign_in_pupil(account.identifier, CHOSEN).outcome is SignIn.OK
    assert services.sign_in_pupil(account.identifier, provisional).outcome is SignIn.FAILED


def test_activation_page_needs_a_provisional_sign_in_first():
    response = new_client().get(reverse("pupil:activate"))
    assert response.status_code == 302
    assert response["Location"] == reverse("pupil:login")


# --- Identifiers ---------------------------------------------------------------------------


def test_identifier_is_lowercase_ascii_from_the_name(zoe):
    account, _pw = zoe
    assert re.fullmatch(r"nzoe[0-9]{3}", account.identifier)
    assert account.identifier.isascii() and account.identifier == account.identifier.lower()


@pytest.mark.parametrize(
    ("first", "last", "base"),
    [
        ("Zoé", "N'Guyen-Lefèvre", "nzoe"),
        ("Éloïse", "Œuvray", "oeloi"),
        ("Jean-Baptiste", "de La Tour", "djean"),
        ("李", "王", "eleve"),
    ],
)
def test_identifier_base(first, last, base):
    assert identifiers.base_of(first, last) == base
    made = identifiers.generate(first, last, lambda _c: False)
    assert re.fullmatch(rf"{base}[0-9]{{3}}", made)


def test_identifiers_are_unique_for_same_names(college):
    made = {make_pupil(college)[0].identifier for _ in range(25)}
    assert len(made) == 25
    assert len(set(User.objects.values_list("username", flat=True))) == User.objects.count()


def test_identifier_avoids_taken_ones_and_grows_when_crowded():
    taken = {f"nzoe{n}" for n in range(100, 1000)}  # every 3-digit one
    made = identifiers.generate("Zoé", "N'Guyen", taken.__contains__, rng=random.Random(1))
    assert made not in taken
    assert re.fullmatch(r"nzoe[0-9]{4}", made)


def test_identifier_is_stable(college, quick_delegate, zoe):
    account, provisional = zoe
    identifier = account.identifier
    services.reset_password(quick_delegate, fresh(account))
    student = fresh(account).student
    student.last_name = "Martin"
    student.save()
    services.activate(fresh(account), new_password=CHOSEN, birth_date=datetime.date(2011, 3, 14))
    assert fresh(account).identifier == identifier


# --- Search, filters, sorting, pagination --------------------------------------------------


@pytest.fixture
def classes(college):
    mef3 = MefFactory(code="10310019110", label="3EME")
    mef4 = MefFactory(code="10210001110", label="4EME")
    d3a = DivisionFactory(establishment=college, code="3A")
    d3b = DivisionFactory(establishment=college, code="3B")
    d4b = DivisionFactory(establishment=college, code="4B")
    pupils = {
        "zoe": make_pupil(college, division=d3a, mef=mef3),
        "leo": make_pupil(
            college,
            first_name="Léo",
            last_name="Martin",
            division=d3a,
            mef=mef3,
            state=AccountState.NOT_INFORMED,
        ),
        "ines": make_pupil(
            college,
            first_name="Inès",
            last_name="Lefebvre",
            division=d3b,
            mef=mef3,
            state=AccountState.DEACTIVATED,
        ),
        "hugo": make_pupil(
            college,
            first_name="Hugo",
            last_name="Berthier",
            division=d4b,
            mef=mef4,
            state=AccountState.ACTIVE,
        ),
    }
    StudentAccount.objects.filter(pk=pupils["hugo"][0].pk).update(email="hugo@example.org")
    return {"mef3": mef3, "mef4": mef4, "3A": d3a, "3B": d3b, "4B": d4b, "pupils": pupils}


def _names(agent, college, **filters) -> list[str]:
    found = selectors.search_pupils(agent, college, selectors.PupilFilters(**filters))
    return [s.first_name for s in found]


@pytest.mark.parametrize(
    "query",
    ["lefevre", "LEFÈVRE", "n'guyen", "nguyen", "guyen-lef", "N’Guyen", "zoé", "zoe nguyen"],
)
def test_search_is_partial_and_ignores_case_accents_apostrophes(
    college, quick_delegate, classes, query
):
    assert _names(quick_delegate, college, query=query) == ["Zoé"]


def test_search_misses_other_names(college, quick_delegate, classes):
    assert _names(quick_delegate, college, query="lefebvre") == ["Inès"]
    assert _names(quick_delegate, college, query="dupont") == []


def test_search_through_the_page(college, quick_delegate, classes):
    zoe_account = classes["pupils"]["zoe"][0]
    client = signed_in(quick_delegate)
    url = reverse("depannage:pupils", args=[college.uai])
    for query in ("lefevre", "LEFÈVRE", "n'guyen", "nguyen", "guyen-lef"):
        rows = account_rows(client.get(url, {"q": query}).content.decode())
        assert list(rows) == [zoe_account.pk], query


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
