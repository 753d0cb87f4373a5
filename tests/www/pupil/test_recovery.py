"""Pupil self-service recovery: the address and its confirmation, "Mot de passe oublié",
the reset link, and the request to the school."""

from __future__ import annotations

import datetime
import re
import time
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.urls import reverse

from educompte.accounts import throttling
from educompte.accounts.models import ThrottleCounter
from educompte.audit.models import AuditEvent
from educompte.pupils import recovery, services
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.pupils.services import SignIn
from tests.factories import AGENT_PASSWORD, make_delegate, make_pupil
from tests.helpers import new_client, signed_in
from tests.html_helpers import label_of, parse, without_csrf

pytestmark = pytest.mark.usefixtures("locmem_mail")

BIRTH = datetime.date(2011, 3, 14)
CHOSEN = "Une phrase de passe solide !"
NEW = "quatre chevaux bleus sous la pluie"
ADDRESS = "zoe.famille@example.org"
LINK_RE = re.compile(r"https?://\S+")


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def activate(account: StudentAccount, password: str = CHOSEN) -> StudentAccount:
    services.activate(account, new_password=password, birth_date=BIRTH)
    return fresh(account)


def link_path(message) -> str:
    """The path of the only link of a mail."""
    links = LINK_RE.findall(message.body)
    assert len(links) == 1, message.body
    return urlsplit(links[0]).path


def events(action: str):
    return AuditEvent.objects.filter(action=action)


# --- The address, given at activation or from "Mon compte" ------------------------------


def _start_activation(account: StudentAccount, provisional: str):
    pupil = new_client()
    started = pupil.post(
        reverse("pupil:login"), {"username": account.identifier, "password": provisional}
    )
    assert started["Location"] == reverse("pupil:activate")
    return pupil


def _activation_data(**extra) -> dict:
    return {"new_password1": CHOSEN, "new_password2": CHOSEN, "birth_date": "14/03/2011", **extra}


def test_activation_offers_an_optional_address(zoe):
    account, provisional = zoe
    pupil = _start_activation(account, provisional)
    page = pupil.get(reverse("pupil:activate"))
    assert label_of(page.text, "email").startswith("Adresse électronique (facultatif)")

    done = pupil.post(reverse("pupil:activate"), _activation_data())
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:services")
    after = fresh(account)
    assert after.state == AccountState.ACTIVE
    assert (after.email, after.email_confirmed) == ("", False)
    assert mail.outbox == []


def test_address_given_at_activation_gets_a_confirmation_mail(zoe):
    account, provisional = zoe
    pupil = _start_activation(account, provisional)
    done = pupil.post(reverse("pupil:activate"), _activation_data(email=ADDRESS))
    assert done.status_code == 302
    after = fresh(account)
    assert after.state == AccountState.ACTIVE
    # Waiting for its confirmation: not yet the recovery address.
    assert (after.email, after.email_confirmed, after.pending_email) == ("", False, ADDRESS)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [ADDRESS]
    assert account.identifier in message.body
    assert link_path(message).startswith("/mon-compte/confirmer-adresse/")
    assert "Un lien de confirmation a été envoyé" in pupil.get(done["Location"]).text


def test_confirmation_link_shows_a_button_then_the_post_confirms_once(active_zoe):
    recovery.set_email(active_zoe, ADDRESS, confirm_url_for=lambda t: f"http://testserver/x/{t}/")
    token = mail.outbox[0].body.split("/x/")[1].split("/")[0]
    url = reverse("pupil:confirm_email", args=[token])
    visitor = new_client()

    shown = visitor.get(url)
    assert shown.status_code == 200
    assert "Confirmer mon adresse" in shown.text
    assert '<form method="post">' in shown.text
    assert fresh(active_zoe).email_confirmed is False  # a GET changes nothing
    assert not events(AuditEvent.Action.EMAIL_CONFIRMED).exists()

    confirmed = visitor.post(url)
    assert confirmed.status_code == 200
    assert f"Votre adresse {ADDRESS} est confirmée" in confirmed.text
    assert fresh(active_zoe).email_confirmed is True
    assert events(AuditEvent.Action.EMAIL_CONFIRMED).filter(account=active_zoe).count() == 1

    again = new_client().post(url)
    assert again.status_code == 400
    assert "Ce lien n'est plus valable" in again.text
    assert events(AuditEvent.Action.EMAIL_CONFIRMED).count() == 1


def test_confirmation_through_the_mailed_link(active_zoe):
    pupil = signed_in(active_zoe.user)
    pupil.post(
        reverse("pupil:account"),
        {"what": "email", "mail-email": ADDRESS, "mail-current_password": CHOSEN},
    )
    path = link_path(mail.outbox[0])
    assert pupil.get(path).status_code == 200
    assert pupil.post(path).status_code == 200
    assert fresh(active_zoe).email_confirmed is True


def _token_for(account: StudentAccount, address: str) -> str:
    tokens = []
    recovery.set_email(account, address, confirm_url_for=lambda t: tokens.append(t) or "lien")
    return tokens[0]


@pytest.mark.parametrize(
    ("age", "valid"),
    [(47 * 3600, True), (48 * 3600 - 5, True), (48 * 3600 + 5, False), (30 * 24 * 3600, False)],
)
def test_confirmation_link_expires_after_48_hours(active_zoe, settings, monkeypatch, age, valid):
    assert settings.EDUCOMPTE_EMAIL_CONFIRM_HOURS == 48
    token = _token_for(active_zoe, ADDRESS)
    issued = time.time()
    monkeypatch.setattr("django.core.signing.time.time", lambda: issued + age)
    response = new_client().post(reverse("pupil:confirm_email", args=[token]))
    assert response.status_code == (200 if valid else 400)
    assert fresh(active_zoe).email_confirmed is valid


def test_confirmation_link_dies_when_the_address_changes(active_zoe):
    first = _token_for(active_zoe, "ancienne@example.org")
    second = _token_for(active_zoe, ADDRESS)
    client = new_client()
    assert client.post(reverse("pupil:confirm_email", args=[first])).status_code == 400
    assert fresh(active_zoe).email_confirmed is False
    assert client.post(reverse("pupil:confirm_email", args=[second])).status_code == 200
    after = fresh(active_zoe)
    assert (after.email, after.email_confirmed, after.pending_email) == (ADDRESS, True, "")


def test_tampered_confirmation_link_is_refused(active_zoe):
    token = _token_for(active_zoe, ADDRESS)
    response = new_client().post(reverse("pupil:confirm_email", args=[token[:-2] + "xx"]))
    assert response.status_code == 400
    assert fresh(active_zoe).email_confirmed is False


# --- Mot de passe oublié -------------------------------------------------------------------


def _forgot(query: str, client=None):
    return (client or new_client()).post(reverse("pupil:forgot"), {"query": query})


@pytest.mark.parametrize("query", ["identifier", "IDENTIFIER", "address", "ADDRESS"])
def test_forgot_mails_one_link_by_identifier_or_address(recoverable, query):
    typed = {
        "identifier": recoverable.identifier,
        "IDENTIFIER": recoverable.identifier.upper(),
        "address": ADDRESS,
        "ADDRESS": ADDRESS.upper(),
    }[query]
    response = _forgot(typed)
    assert response.status_code == 200
    assert "Vérifiez votre messagerie" in response.text
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [ADDRESS]
    assert recoverable.identifier in message.body
    assert "30 minutes" in message.body
    assert re.fullmatch(r"/connexion/reinitialiser/[^/]+/[^/]+/", link_path(message))


def test_forgot_answers_the_same_whatever_the_account(college, recoverable):
    no_address = activate(make_pupil(college, first_name="Hugo", last_name="Martin")[0])
    unconfirmed = activate(make_pupil(college, first_name="Inès", last_name="Bernard")[0])
    StudentAccount.objects.filter(pk=unconfirmed.pk).update(email="ines@example.org")
    pending = activate(make_pupil(college, first_name="Jade", last_name="Roux")[0])
    StudentAccount.objects.filter(pk=pending.pk).update(pending_email="jade@example.org")
    # Confirmed address, but the account waits for activation (staff reset it).
    not_active, _pw = make_pupil(college, first_name="Léo", last_name="Petit")
    StudentAccount.objects.filter(pk=not_active.pk).update(
        email="leo@example.org", email_confirmed=True
    )
    answers = {}
    for name, query in [
        ("unknown", "personne.inconnue"),
        ("unknown address", "personne@example.org"),
        ("no address", no_address.identifier),
        ("unconfirmed", unconfirmed.identifier),
        ("unconfirmed address", "ines@example.org"),
        ("waiting for confirmation", pending.identifier),
        ("address waiting for confirmation", "jade@example.org"),
        ("not active", not_active.identifier),
        ("valid", recoverable.identifier),
    ]:
        response = _forgot(query)
        answers[name] = (response.status_code, without_csrf(response.text))
    assert len(set(answers.values())) == 1, [k for k in answers if answers[k] != answers["valid"]]
    assert [m.to for m in mail.outbox] == [[ADDRESS]]


def _mailed_reset_path(account) -> str:
    mail.outbox.clear()
    _forgot(account.identifier)
    assert len(mail.outbox) == 1
    return link_path(mail.outbox[0])


def test_reset_link_sets_a_new_password_once(recoverable):
    path = _mailed_reset_path(recoverable)
    token = path.rstrip("/").rsplit("/", 1)[1]
    pupil = new_client()

    moved = pupil.get(path)
    assert moved.status_code == 302
    form_url = moved["Location"]
    assert form_url.endswith("/nouveau-mot-de-passe/")
    assert token not in form_url  # the token left the URL for the session
    form = pupil.get(form_url)
    assert form.status_code == 200
    assert recoverable.identifier in form.text
    assert "Choisir un nouveau mot de passe" in form.text

    done = pupil.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:login")
    assert services.sign_in_pupil(recoverable.identifier, CHOSEN).outcome is SignIn.FAILED
    assert services.sign_in_pupil(recoverable.identifier, NEW).outcome is SignIn.OK
    event = events(AuditEvent.Action.PASSWORD_RECOVERED).get()
    assert (event.actor, event.account) == (recoverable.user, recoverable)

    for client in (pupil, new_client()):  # the same browser, or another one
        again = client.get(path)
        assert again.status_code == 302
        invalid = client.get(again["Location"])
        assert invalid.status_code == 400
        assert "Ce lien n'est plus valable" in invalid.text
        assert client.post(again["Location"], {"new_password1": "x" * 12}).status_code == 400
    assert services.sign_in_pupil(recoverable.identifier, NEW).outcome is SignIn.OK


def test_the_reset_form_needs_the_token_from_the_link(recoverable):
    path = _mailed_reset_path(recoverable)
    form_url = path.rsplit("/", 2)[0] + "/nouveau-mot-de-passe/"
    response = new_client().get(form_url)
    assert response.status_code == 400
    assert "plus valable" in response.text


@pytest.mark.parametrize(("minutes", "valid"), [(29, True), (31, False), (24 * 60, False)])
def test_reset_link_expires_after_30_minutes(recoverable, monkeypatch, settings, minutes, valid):
    assert settings.PASSWORD_RESET_TIMEOUT == 30 * 60
    path = _mailed_reset_path(recoverable)
    later = datetime.datetime.now() + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    pupil = new_client()
    form = pupil.get(pupil.get(path)["Location"])
    assert form.status_code == (200 if valid else 400)
    done = pupil.post(
        path.rsplit("/", 2)[0] + "/nouveau-mot-de-passe/",
        {"new_password1": NEW, "new_password2": NEW},
    )
    assert done.status_code == (302 if valid else 400)
    expected = NEW if valid else CHOSEN
    assert services.sign_in_pupil(recoverable.identifier, expected).outcome is SignIn.OK


@pytest.mark.parametrize(
    ("new1", "new2", "message"),
    [
        ("Ab3$xyz", "Ab3$xyz", "trop court"),
        ("azertyuiop", "azertyuiop", "trop courant"),
        (NEW, NEW + "x", "ne sont pas identiques"),
    ],
)
def test_reset_enforces_the_password_rules(recoverable, new1, new2, message):
    path = _mailed_reset_path(recoverable)
    pupil = new_client()
    form_url = pupil.get(path)["Location"]
    refused = pupil.post(form_url, {"new_password1": new1, "new_password2": new2})
    assert refused.status_code == 400
    assert message in refused.text
    assert fresh(recoverable).user.password == recoverable.user.password
    assert not events(AuditEvent.Action.PASSWORD_RECOVERED).exists()
    # The link still serves once the rules are met.
    assert pupil.post(form_url, {"new_password1": NEW, "new_password2": NEW}).status_code == 302
    assert services.sign_in_pupil(recoverable.identifier, NEW).outcome is SignIn.OK


def test_reset_by_link_lifts_the_sign_in_lock(recoverable):
    for i in range(25):  # what 25 wrong passwords record (without 25 Argon2 checks)
        throttling.record_failure(recoverable.user_id, f"192.0.2.{i + 1}")
    assert services.sign_in_pupil(recoverable.identifier, NEW).outcome is SignIn.LOCKED
    assert recoverable.user_id in throttling.blocked_until([recoverable.user_id])
    pupil = new_client()
    form_url = pupil.get(_mailed_reset_path(recoverable))["Location"]
    assert pupil.post(form_url, {"new_password1": NEW, "new_password2": NEW}).status_code == 302
    assert throttling.blocked_until([recoverable.user_id]) == {}
    result = services.sign_in_pupil(recoverable.identifier, NEW, ip="198.51.100.7")
    assert result.outcome is SignIn.OK


def test_the_reset_link_ends_open_sessions(recoverable):
    elsewhere = signed_in(recoverable.user)
    assert elsewhere.get(reverse("pupil:services")).status_code == 200
    pupil = new_client()
    form_url = pupil.get(_mailed_reset_path(recoverable))["Location"]
    pupil.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    gone = elsewhere.get(reverse("pupil:services"))
    assert gone.status_code == 302
    assert gone["Location"].startswith(reverse("pupil:login"))


# --- Demander à mon établissement ----------------------------------------------------------


def _ask(identifier: str, class_given: str = "3A", message: str = "", **extra):
    return new_client().post(
        reverse("pupil:ask_school"),
        {"identifier": identifier, "class_given": class_given, "message": message},
        **extra,
    )


def test_the_forgot_page_leads_to_the_request_form(db):
    page = new_client().get(reverse("pupil:forgot"))
    assert reverse("pupil:ask_school") in page.text
    assert "Demander à mon établissement" in page.text
    form = new_client().get(reverse("pupil:ask_school"))
    assert form.status_code == 200
    assert label_of(form.text, "identifier").startswith("Identifiant")
    assert label_of(form.text, "class_given").startswith("Classe")
    assert label_of(form.text, "message").startswith("Message (facultatif)")


def test_a_request_reaches_the_school(college, quick_delegate, zoe):
    account, _provisional = zoe
    sent = _ask(
        account.identifier.upper(), "3e A", "J'ai perdu mon courrier", REMOTE_ADDR="192.0.2.7"
    )
    assert sent.status_code == 200
    assert "Demande envoyée" in sent.text
    request = SupportRequest.objects.get()
    assert (request.account, request.establishment) == (account, college)
    assert (request.class_given, request.message) == ("3e A", "J'ai perdu mon courrier")
    assert request.status == SupportRequest.Status.OPEN
    assert request.ip_address == "192.0.2.7"
    assert events(AuditEvent.Action.REQUEST_CREATED).filter(account=account).count() == 1

    staff = signed_in(quick_delegate)
    page = staff.get(reverse("depannage:requests", args=[college.uai]))
    assert page.status_code == 200
    rows = [cells for _attrs, cells in parse(page.text).rows if cells]
    assert len(rows) == 1
    cells = rows[0]
    assert cells[1] == "N'Guyen-Lefèvre Zoé"
    assert cells[3:6] == ["3e A", account.identifier, "J'ai perdu mon courrier"]
    assert "Réinitialiser le mot de passe" in page.text and "Clore sans suite" in page.text
    # The count on the tab, in the Élèves tab too, and on the portal tile.
    assert re.search(r"Demandes <span[^>]*>1</span>", page.text)
    pupils = staff.get(reverse("depannage:pupils", args=[college.uai]))
    assert re.search(r"Demandes <span[^>]*>1</span>", pupils.text)
    portal = staff.get(reverse("portal:index"))
    assert "1 demande d'élève en attente" in portal.text


def test_unknown_identifier_gets_the_same_answer_and_files_nothing(college, zoe):
    account, _provisional = zoe
    unknown = _ask("personne.inconnue")
    known = _ask(account.identifier)
    assert unknown.status_code == known.status_code == 200
    assert without_csrf(unknown.text) == without_csrf(known.text)
    assert SupportRequest.objects.count() == 1
    assert SupportRequest.objects.get().account == account


def test_a_second_request_does_not_duplicate(zoe):
    account, _provisional = zoe
    _ask(account.identifier, "3A", "premier message")
    _ask(account.identifier, "3B", "second message")
    request = SupportRequest.objects.get()
    assert (request.class_given, request.message) == ("3B", "second message")
    assert events(AuditEvent.Action.REQUEST_CREATED).count() == 1


def test_a_deactivated_account_files_nothing(college, head, zoe):
    account, _provisional = zoe
    services.deactivate(head, college, [account.pk], reason="Départ")
    assert _ask(account.identifier).status_code == 200
    assert not SupportRequest.objects.exists()


HERE, ELSEWHERE = "203.0.113.9", "198.51.100.7"


# --- Recovery requests and the address limit ------------------------------------------


@pytest.mark.django_db
def test_three_hundred_forgot_password_requests_lock_no_sign_in(college, settings):
    assert settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT == 300
    account, _provisional = make_pupil(college)
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    agent = make_delegate(college, username="vie-scolaire")
    flooder = new_client()
    forgot = reverse("pupil:forgot")
    for i in range(300):
        page = flooder.post(forgot, {"query": f"inconnu{i}"}, REMOTE_ADDR=HERE)
        assert page.status_code == 200, i
    assert flooder.post(forgot, {"query": "x"}, REMOTE_ADDR=HERE).status_code == 429

    pupil = new_client().post(
        reverse("pupil:login"),
        {"username": account.identifier, "password": CHOSEN},
        REMOTE_ADDR=HERE,
    )
    assert pupil.status_code == 302 and pupil["Location"] == reverse("pupil:services")
    staff = new_client().post(
        reverse("portal:login"),
        {"username": agent.username, "password": AGENT_PASSWORD},
        REMOTE_ADDR=HERE,
    )
    assert staff.status_code == 302 and staff["Location"] == reverse("portal:index")
    # Nothing was counted against sign-ins from that address.
    assert not ThrottleCounter.objects.filter(key=f"address:{HERE}").exists()
