""" "Mon compte": changing the password, the address, and closing the other sessions."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from educompte.audit.models import AuditEvent
from educompte.pupils import services
from educompte.pupils.models import StudentAccount
from educompte.pupils.services import SignIn
from tests.helpers import new_client, signed_in

pytestmark = pytest.mark.usefixtures("locmem_mail")
CHOSEN = "Une phrase de passe solide !"
NEW = "quatre chevaux bleus sous la pluie"
ADDRESS = "zoe.famille@example.org"
LINK_RE = re.compile(r"https?://\S+")


def fresh(account: StudentAccount) -> StudentAccount:
    return StudentAccount.objects.select_related("user", "student").get(pk=account.pk)


def link_path(message) -> str:
    """The path of the only link of a mail."""
    links = LINK_RE.findall(message.body)
    assert len(links) == 1, message.body
    return urlsplit(links[0]).path


def events(action: str):
    return AuditEvent.objects.filter(action=action)


def test_changing_the_address_from_my_account_sends_a_confirmation(recoverable):
    pupil = signed_in(recoverable.user)
    page = pupil.get(reverse("pupil:account"))
    assert ADDRESS in page.text and "Confirmée" in page.text

    done = pupil.post(
        reverse("pupil:account"),
        {"what": "email", "mail-email": "neuve@example.org", "mail-current_password": CHOSEN},
    )
    assert done.status_code == 302
    after = fresh(recoverable)
    # The confirmed address stays the recovery address until the new one is confirmed.
    assert (after.email, after.email_confirmed) == (ADDRESS, True)
    assert after.pending_email == "neuve@example.org"
    confirmation = [m for m in mail.outbox if m.to == ["neuve@example.org"]]
    assert len(confirmation) == 1
    assert link_path(confirmation[0]).startswith("/mon-compte/confirmer-adresse/")
    page = pupil.get(reverse("pupil:account"))
    assert "Un lien de confirmation a été envoyé à neuve@example.org" in page.text
    assert "Non confirmée" in page.text

    assert pupil.post(link_path(confirmation[0])).status_code == 200
    after = fresh(recoverable)
    assert (after.email, after.email_confirmed, after.pending_email) == (
        "neuve@example.org",
        True,
        "",
    )


def test_an_invalid_address_is_refused_and_nothing_changes(recoverable):
    pupil = signed_in(recoverable.user)
    refused = pupil.post(
        reverse("pupil:account"),
        {"what": "email", "mail-email": "pas-une-adresse", "mail-current_password": CHOSEN},
    )
    assert refused.status_code == 400
    after = fresh(recoverable)
    assert (after.email, after.email_confirmed, after.pending_email) == (ADDRESS, True, "")
    assert mail.outbox == []


# --- Mon compte ----------------------------------------------------------------------------


def _change(client, current: str, new1: str = NEW, new2: str | None = None):
    return client.post(
        reverse("pupil:account"),
        {
            "what": "password",
            "pw-current_password": current,
            "pw-new_password1": new1,
            "pw-new_password2": new1 if new2 is None else new2,
        },
    )


def test_my_account_needs_a_signed_in_pupil(db, quick_delegate):
    anonymous = new_client().get(reverse("pupil:account"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("pupil:login"))
    staff = signed_in(quick_delegate).get(reverse("pupil:account"))
    assert staff.status_code == 302


def test_changing_the_password_needs_the_current_one(active_zoe):
    pupil = signed_in(active_zoe.user)
    refused = _change(pupil, "pas le bon")
    assert refused.status_code == 400
    assert "Mot de passe actuel incorrect" in refused.text
    assert fresh(active_zoe).user.password == active_zoe.user.password
    assert not events(AuditEvent.Action.PASSWORD_CHANGED).exists()

    too_short = _change(pupil, CHOSEN, "Ab3$xyz")
    assert too_short.status_code == 400
    assert "trop court" in too_short.text
    assert fresh(active_zoe).user.password == active_zoe.user.password


def test_changing_the_password_ends_the_other_sessions_only(active_zoe):
    here = new_client()
    signed = here.post(
        reverse("pupil:login"), {"username": active_zoe.identifier, "password": CHOSEN}
    )
    assert signed["Location"] == reverse("pupil:services")
    there = signed_in(active_zoe.user)
    assert there.get(reverse("pupil:services")).status_code == 200

    done = _change(here, CHOSEN)
    assert done.status_code == 302
    assert "Votre mot de passe est changé" in here.get(reverse("pupil:account")).text
    assert here.get(reverse("pupil:services")).status_code == 200
    gone = there.get(reverse("pupil:services"))
    assert gone.status_code == 302
    assert gone["Location"].startswith(reverse("pupil:login"))
    assert services.sign_in_pupil(active_zoe.identifier, CHOSEN).outcome is SignIn.FAILED
    assert services.sign_in_pupil(active_zoe.identifier, NEW).outcome is SignIn.OK
    assert events(AuditEvent.Action.PASSWORD_CHANGED).filter(account=active_zoe).count() == 1


def test_closing_the_other_sessions(active_zoe):
    here, there = signed_in(active_zoe.user), signed_in(active_zoe.user)
    assert there.get(reverse("pupil:services")).status_code == 200

    done = here.post(reverse("pupil:account"), {"what": "sessions"})
    assert done.status_code == 302
    assert done["Location"] == reverse("pupil:account")
    assert "Vos autres sessions sont fermées" in here.get(reverse("pupil:account")).text
    assert here.get(reverse("pupil:services")).status_code == 200

    gone = there.get(reverse("pupil:services"))
    assert gone.status_code == 302
    assert gone["Location"].startswith(reverse("pupil:login"))
    # The password did not change: the pupil signs in again as before.
    assert services.sign_in_pupil(active_zoe.identifier, CHOSEN).outcome is SignIn.OK
    assert events(AuditEvent.Action.SESSIONS_ENDED).filter(account=active_zoe).count() == 1
