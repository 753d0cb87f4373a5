"""Issue 11, items 5, 8, 9 and 14, each attack replayed and refused:

5. a pupil session (stolen, or left open) cannot divert the recovery address: the current
   password is asked, the confirmed address is told, the new one serves only once confirmed;
8. "Mot de passe oublié" answers before any mail is sent (its timing must not tell who has a
   confirmed address);
9. the current-password check of "Mon compte" is throttled like the sign-in;
14. mailed links come from EDUCOMPTE_PUBLIC_URL, never from the Host header.
"""

from __future__ import annotations

import datetime
import html
import logging
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import formats, timezone

from educompte.accounts import throttling
from educompte.audit.models import AuditEvent
from educompte.core import after_response
from educompte.pupils import recovery, services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from educompte.sso.claims import claims_for
from tests.helpers import new_client, signed_in
from tests.wsgi_helpers import kept_connections, post_without_closing

pytestmark = pytest.mark.usefixtures("locmem_mail")

BIRTH = datetime.date(2011, 3, 14)
CHOSEN = "Une phrase de passe solide !"
NEW_PASSWORD = "quatre chevaux bleus sous la pluie"
ADDRESS = "zoe.famille@example.org"
ATTACKER = "neuve.adresse@pirate.example"
LINK_RE = re.compile(r"https?://\S+")
LOCKED = "Trop d'essais infructueux. Pour protéger ce compte, réessayez à partir du"


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def links(message) -> list[str]:
    return LINK_RE.findall(message.body)


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


@pytest.fixture
def recoverable(zoe):
    """An activated pupil whose address is confirmed."""
    account, _provisional = zoe
    services.activate(account, new_password=CHOSEN, birth_date=BIRTH)
    StudentAccount.objects.filter(pk=account.pk).update(email=ADDRESS, email_confirmed=True)
    return fresh(account)


def change_email(client, email: str, current: str | None = CHOSEN, **extra):
    data = {"what": "email", "mail-email": email}
    if current is not None:
        data["mail-current_password"] = current
    return client.post(reverse("pupil:account"), data, **extra)


def change_password(client, current: str):
    return client.post(
        reverse("pupil:account"),
        {
            "what": "password",
            "pw-current_password": current,
            "pw-new_password1": NEW_PASSWORD,
            "pw-new_password2": NEW_PASSWORD,
        },
    )


def forgot(query: str, **extra):
    return new_client().post(reverse("pupil:forgot"), {"query": query}, **extra)


def unchanged(account: StudentAccount) -> bool:
    after = fresh(account)
    return (after.email, after.email_confirmed, after.pending_email) == (ADDRESS, True, "")


# --- 5. Changing the recovery address ------------------------------------------------------


@pytest.mark.parametrize("current", [None, "", "pas le bon mot de passe"])
def test_a_session_alone_cannot_change_the_address(recoverable, current):
    """The attack: a session left open on a shared computer; whoever finds it types their own
    address, then resets the password through it."""
    pupil = signed_in(recoverable.user)
    refused = change_email(pupil, ATTACKER, current)
    assert refused.status_code == 400
    assert unchanged(recoverable)
    assert mail.outbox == []
    errors = re.search(r'id="id_mail-current_password-desc-error">.*?</div>', refused.text, re.S)
    expected = "Mot de passe actuel incorrect" if current else "Ce champ est obligatoire"
    assert expected in errors.group(0)
    # Nor can the address be removed without the password.
    assert change_email(pupil, "", current).status_code == 400
    assert unchanged(recoverable)


def test_the_confirmed_address_is_told_with_the_new_one_masked(recoverable):
    pupil = signed_in(recoverable.user)
    done = change_email(pupil, ATTACKER)
    assert done.status_code == 302

    [notice] = mails_to(ADDRESS)
    assert notice.subject == "Educompte : changement de votre adresse électronique"
    assert recoverable.identifier in notice.body
    assert "n***@p***.example" in notice.body
    assert ATTACKER not in notice.body and "pirate" not in notice.body
    assert "Si vous n'êtes pas à l'origine de ce changement" in notice.body
    assert "Mot de passe oublié" in notice.body
    assert links(notice) == []  # nothing to follow from the old address
    [confirmation] = mails_to(ATTACKER)
    assert len(links(confirmation)) == 1
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.EMAIL_CHANGE_REQUESTED)
    assert (event.account_id, event.actor_id) == (recoverable.pk, recoverable.user_id)
    assert ATTACKER not in str(event.details)


def test_the_new_address_serves_only_once_confirmed(recoverable):
    pupil = signed_in(recoverable.user)
    change_email(pupil, ATTACKER)
    [confirmation] = mails_to(ATTACKER)
    after = fresh(recoverable)
    assert (after.email, after.email_confirmed, after.pending_email) == (ADDRESS, True, ATTACKER)
    # Services still get the confirmed address only.
    assert claims_for(after.user, None, {"email"}) == {
        "email": ADDRESS,
        "email_verified": True,
    }

    # Reset links still go to the confirmed address, whatever is typed.
    mail.outbox.clear()
    forgot(recoverable.identifier)
    forgot(ATTACKER)
    assert [m.to for m in mail.outbox] == [[ADDRESS]]
    old_reset_link = urlsplit(links(mail.outbox[0])[0]).path

    # Once the link is followed, the new address is the recovery address.
    assert new_client().post(urlsplit(links(confirmation)[0]).path).status_code == 200
    after = fresh(recoverable)
    assert (after.email, after.email_confirmed, after.pending_email) == (ATTACKER, True, "")
    assert claims_for(after.user, None, {"email"})["email"] == ATTACKER
    mail.outbox.clear()
    forgot(recoverable.identifier)
    assert [m.to for m in mail.outbox] == [[ATTACKER]]
    # The link mailed to the old address died with the change.
    visitor = new_client()
    assert visitor.get(visitor.get(old_reset_link)["Location"]).status_code == 400


def test_a_new_password_cancels_the_change_waiting_for_confirmation(recoverable):
    """Told by the notice, the pupil resets the password from the old address: the
    attacker's confirmation link dies."""
    change_email(signed_in(recoverable.user), ATTACKER)
    [confirmation] = mails_to(ATTACKER)
    mail.outbox.clear()
    forgot(recoverable.identifier)
    [reset] = mails_to(ADDRESS)
    pupil = new_client()
    form_url = pupil.get(urlsplit(links(reset)[0]).path)["Location"]
    done = pupil.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert fresh(recoverable).pending_email == ""

    refused = new_client().post(urlsplit(links(confirmation)[0]).path)
    assert refused.status_code == 400
    assert unchanged(recoverable)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EMAIL_CONFIRMED).exists()


def test_removing_the_address_needs_the_password_and_tells_the_old_address(recoverable):
    pupil = signed_in(recoverable.user)
    done = change_email(pupil, "")
    assert done.status_code == 302
    assert "Votre adresse électronique est retirée" in pupil.get(done["Location"]).text
    after = fresh(recoverable)
    assert (after.email, after.email_confirmed, after.pending_email) == ("", False, "")
    [notice] = mail.outbox
    assert notice.to == [ADDRESS]
    assert notice.subject == "Educompte : adresse électronique retirée"
    assert "Demander à mon établissement" in notice.body
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.EMAIL_REMOVED, account=recoverable
    ).exists()
    mail.outbox.clear()
    forgot(ADDRESS)
    assert mail.outbox == []


def test_giving_the_confirmed_address_again_cancels_a_pending_change(recoverable):
    pupil = signed_in(recoverable.user)
    change_email(pupil, ATTACKER)
    [confirmation] = mails_to(ATTACKER)
    mail.outbox.clear()
    done = change_email(pupil, ADDRESS.upper())
    assert done.status_code == 302
    assert "Cette adresse est déjà confirmée" in pupil.get(done["Location"]).text
    assert unchanged(recoverable)
    assert mail.outbox == []
    assert new_client().post(urlsplit(links(confirmation)[0]).path).status_code == 400


def test_an_address_given_again_at_activation_waits_and_the_old_one_is_told(recoverable):
    """After a staff reset the pupil activates again and may type a new address there (the
    activation page calls set_email): the same rules hold."""
    recovery.set_email(recoverable, ATTACKER, confirm_url_for=lambda token: f"https://x/{token}/")
    assert fresh(recoverable).email == ADDRESS
    assert fresh(recoverable).pending_email == ATTACKER
    assert [m.subject for m in mails_to(ADDRESS)] == [
        "Educompte : changement de votre adresse électronique"
    ]


def test_the_account_page_shows_the_address_waiting(recoverable):
    pupil = signed_in(recoverable.user)
    change_email(pupil, ATTACKER)
    page = pupil.get(reverse("pupil:account")).text
    assert f"Adresse actuelle : <strong>{ADDRESS}</strong>" in page
    pending = re.search(r'<p id="pending-email">.*?</p>', page, re.S).group(0)
    assert ATTACKER in pending and "Non confirmée" in pending


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("neuve.adresse@pirate.example", "n***@p***.example"),
        ("a@b.fr", "a***@b***.fr"),
        ("zoe@ac-grenoble.fr", "z***@a***.fr"),
    ],
)
def test_mask_email(address, masked):
    assert recovery.mask_email(address) == masked


# --- 9. The current password is throttled --------------------------------------------------


def text(response) -> str:
    return html.unescape(response.content.decode())


def _retry_text(account: StudentAccount) -> str:
    verdict = throttling.check(account.user_id, "127.0.0.1")
    assert not verdict.allowed
    return formats.date_format(timezone.localtime(verdict.retry_at), "DATETIME_FORMAT")


@pytest.mark.parametrize("form", ["email", "password"])
def test_wrong_current_passwords_are_throttled(recoverable, form):
    """The attack: from an open session, guess the password with the current-password check,
    which had no limit."""
    pupil = signed_in(recoverable.user)
    attempt = change_email if form == "email" else change_password

    def guess(password: str):
        if form == "email":
            return attempt(pupil, ATTACKER, password)
        return attempt(pupil, password)

    for i in range(throttling.FREE_FAILURES - 1):
        refused = guess(f"essai {i}")
        assert refused.status_code == 400
        assert "Mot de passe actuel incorrect" in refused.text
    locked = guess("essai final")
    assert locked.status_code == 400
    assert f"{LOCKED} {_retry_text(recoverable)}." in text(locked)

    # Locked: even the right password is not checked now.
    still = guess(CHOSEN)
    assert still.status_code == 400
    assert LOCKED in text(still)
    assert unchanged(recoverable)
    assert mail.outbox == []
    assert services.sign_in_pupil(recoverable.identifier, CHOSEN).outcome is SignIn.OK
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_CHANGED).exists()


def test_the_sign_in_counters_are_shared(recoverable):
    """Failures at the sign-in and in "Mon compte" add up (same counters, same address)."""
    for i in range(throttling.FREE_FAILURES - 1):
        services.sign_in_pupil(recoverable.identifier, f"essai {i}", ip="127.0.0.1")
    locked = change_password(signed_in(recoverable.user), "essai final")
    assert LOCKED in text(locked)


def test_a_right_current_password_starts_the_count_again(recoverable):
    pupil = signed_in(recoverable.user)
    for i in range(throttling.FREE_FAILURES - 1):
        change_email(pupil, ATTACKER, f"essai {i}")
    assert change_email(pupil, ATTACKER, CHOSEN).status_code == 302
    refused = change_email(pupil, ATTACKER, "encore un essai")
    assert "Mot de passe actuel incorrect" in refused.text
    assert LOCKED not in text(refused)


# --- 8. The forgotten-password page does not wait for the mail -----------------------------


def test_forgot_answers_before_the_mail_is_sent(recoverable):
    """Served as a WSGI server serves it: the body is complete and the mail not yet sent;
    it goes once the server closes the response."""
    served = post_without_closing(reverse("pupil:forgot"), {"query": recoverable.identifier})
    assert served.status == "200 OK"
    assert "Vérifiez votre messagerie" in served.body.decode()
    assert mail.outbox == []
    served.close()
    assert [m.to for m in mail.outbox] == [[ADDRESS]]


def test_the_test_client_sends_the_deferred_mail_too(recoverable):
    forgot(recoverable.identifier)
    assert [m.to for m in mail.outbox] == [[ADDRESS]]


def test_a_failing_deferred_mail_is_logged_never_shown(recoverable, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the mail backend is broken")

    monkeypatch.setattr(recovery, "send_mail", broken)
    served = post_without_closing(reverse("pupil:forgot"), {"query": recoverable.identifier})
    unknown = post_without_closing(reverse("pupil:forgot"), {"query": "personne.inconnue"})
    assert served.status == unknown.status == "200 OK"
    with caplog.at_level(logging.ERROR, logger="educompte.after_response"):
        served.close()  # does not raise
        unknown.close()
    [failure] = [r for r in caplog.records if r.name == "educompte.after_response"]
    assert "work after the response failed" in failure.getMessage()
    assert "the mail backend is broken" in failure.exc_text


def test_after_response_runs_in_order_and_survives_a_failure(db, caplog):
    ran = []

    def view(request):
        after_response.defer(request, lambda: ran.append("first"))
        after_response.defer(request, lambda: 1 / 0)
        after_response.defer(request, lambda: ran.append("third"))
        assert ran == []
        return HttpResponse("ok")

    response = after_response.AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert ran == []
    with caplog.at_level(logging.ERROR, logger="educompte.after_response"), kept_connections():
        response.close()
    assert ran == ["first", "third"]
    assert len([r for r in caplog.records if r.name == "educompte.after_response"]) == 1


def test_after_response_drops_the_work_of_a_failed_request(db):
    ran = []

    def view(request):
        after_response.defer(request, lambda: ran.append("mail"))
        return HttpResponse("error", status=500)

    response = after_response.AfterResponseMiddleware(view)(RequestFactory().get("/"))
    with kept_connections():
        response.close()
    assert ran == []


def test_without_the_middleware_the_work_runs_at_once():
    ran = []
    after_response.defer(RequestFactory().get("/"), lambda: ran.append("mail"))
    assert ran == ["mail"]


# --- 14. Mailed links from the configuration, not from the Host header ---------------------

PUBLIC = "https://comptes.ac-exemple.fr"
FORGED = {"HTTP_HOST": "127.0.0.1:6666"}  # an allowed host, with the attacker's port


@pytest.fixture
def public_url(settings):
    settings.EDUCOMPTE_PUBLIC_URL = PUBLIC
    return PUBLIC


def _only_link(message) -> str:
    [link] = links(message)
    assert link.startswith(PUBLIC + "/"), link
    assert "6666" not in link
    return link


def test_forgot_link_ignores_a_forged_host(public_url, recoverable):
    response = forgot(recoverable.identifier, **FORGED)
    assert response.status_code == 200
    [message] = mail.outbox
    assert urlsplit(_only_link(message)).path.startswith("/connexion/reinitialiser/")


def test_confirmation_link_ignores_a_forged_host(public_url, recoverable):
    done = change_email(signed_in(recoverable.user), ATTACKER, **FORGED)
    assert done.status_code == 302
    [message] = mails_to(ATTACKER)
    assert urlsplit(_only_link(message)).path.startswith("/mon-compte/confirmer-adresse/")


def test_activation_confirmation_link_ignores_a_forged_host(public_url, zoe):
    account, provisional = zoe
    pupil = new_client()
    pupil.post(
        reverse("pupil:login"),
        {"username": account.identifier, "password": provisional},
        **FORGED,
    )
    done = pupil.post(
        reverse("pupil:activate"),
        {
            "new_password1": CHOSEN,
            "new_password2": CHOSEN,
            "birth_date": "14/03/2011",
            "email": ADDRESS,
        },
        **FORGED,
    )
    assert done.status_code == 302
    [message] = mail.outbox
    assert urlsplit(_only_link(message)).path.startswith("/mon-compte/confirmer-adresse/")


def test_the_migration_moves_unconfirmed_addresses_out_of_the_recovery_field(recoverable, college):
    """Before, an unconfirmed address sat in ``email``; it now waits in ``pending_email``."""
    import importlib

    from django.apps import apps

    from tests.factories import make_pupil

    migration = importlib.import_module("educompte.pupils.migrations.0007_pending_email")
    legacy, _pw = make_pupil(college, first_name="Hugo", last_name="Martin")
    StudentAccount.objects.filter(pk=legacy.pk).update(email="hugo@example.org")
    migration.move_unconfirmed(apps, None)
    moved = fresh(legacy)
    assert (moved.email, moved.email_confirmed, moved.pending_email) == (
        "",
        False,
        "hugo@example.org",
    )
    assert unchanged(recoverable)  # a confirmed address stays where it is
    migration.move_back(apps, None)
    back = fresh(legacy)
    assert (back.email, back.email_confirmed, back.pending_email) == (
        "hugo@example.org",
        False,
        "hugo@example.org",
    )
