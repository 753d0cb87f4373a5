""" "Mon compte" attacked (issue 11): the address changes only once confirmed and with the
password, the old address is told, the current password is throttled."""

from __future__ import annotations

import datetime
import html
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from educompte.accounts import throttling
from educompte.audit.models import AuditEvent
from educompte.core.dates import moment
from educompte.pupils import recovery, services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from educompte.sso.claims import claims_for
from tests.helpers import new_client, signed_in

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


# --- Changing the recovery address ------------------------------------------------------


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


# --- The current password is throttled --------------------------------------------------


def text(response) -> str:
    return html.unescape(response.content.decode())


def _retry_text(account: StudentAccount) -> str:
    verdict = throttling.check(account.user_id, "127.0.0.1")
    assert not verdict.allowed
    return moment(verdict.retry_at)


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
