"""Pupil self-service: e-mail address with confirmation, "Mot de passe oublié" by link,
requests to the school, password change and ending the other sessions."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from educompte.accounts import authz, throttling
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.pupils.signals import credentials_revoked
from educompte.schools.models import Establishment

_EMAIL_SALT = "educompte.pupils.email-confirmation"
log = logging.getLogger("educompte.mail")


def _send(subject: str, body: str, sender: str | None, recipients: list[str]) -> bool:
    """Send one mail; a mail server that is down is logged, never shown (the page must answer
    the same whether or not a mail went out)."""
    try:
        send_mail(subject, body, sender, recipients)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send a mail (%s)", subject)
        return False
    return True


class _ResetTokens(PasswordResetTokenGenerator):
    """Django's reset tokens, also bound to the pupil's address: a link dies when the
    address changes, as it dies when the password changes or the pupil signs in."""

    key_salt = "educompte.pupils.recovery.ResetTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        account = getattr(user, "student_account", None)
        email = f"{account.email}:{account.email_confirmed}" if account else ""
        return super()._make_hash_value(user, timestamp) + email


reset_tokens = _ResetTokens()


def _email_digest(account: StudentAccount) -> str:
    # Changes once the address is confirmed or replaced: a confirmation link works once.
    return salted_hmac(
        _EMAIL_SALT, f"{account.pk}:{account.email}:{account.email_confirmed}"
    ).hexdigest()[:20]


def email_confirmation_token(account: StudentAccount) -> str:
    return signing.dumps({"a": account.pk, "d": _email_digest(account)}, salt=_EMAIL_SALT)


def set_email(account: StudentAccount, email: str, *, confirm_url_for) -> None:
    """Record an address (unconfirmed) and mail it a confirmation link.

    ``confirm_url_for(token)`` builds the absolute link (the view knows the host)."""
    email = email.strip()
    validate_email(email)
    account.email = email
    account.email_confirmed = False
    account.save(update_fields=["email", "email_confirmed", "updated_at"])
    link = confirm_url_for(email_confirmation_token(account))
    hours = settings.EDUCOMPTE_EMAIL_CONFIRM_HOURS
    _send(
        _("Educompte : confirmez votre adresse électronique"),
        _(
            "Bonjour %(first)s,\n\nPour confirmer cette adresse pour votre compte Educompte "
            "(%(identifier)s), ouvrez ce lien dans les %(hours)d heures :\n\n%(link)s\n\n"
            "Elle vous permettra de réinitialiser vous-même votre mot de passe en cas d'oubli.\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message."
        )
        % {
            "first": account.student.first_name,
            "identifier": account.identifier,
            "hours": hours,
            "link": link,
        },
        None,
        [email],
    )


def confirm_email(token: str) -> StudentAccount | None:
    """The account whose address the link confirms, or None (expired, used, tampered)."""
    try:
        data = signing.loads(
            token, salt=_EMAIL_SALT, max_age=settings.EDUCOMPTE_EMAIL_CONFIRM_HOURS * 3600
        )
    except signing.BadSignature:
        return None
    account = (
        StudentAccount.objects.select_related("student", "user").filter(pk=data.get("a")).first()
    )
    if account is None or not account.email or data.get("d") != _email_digest(account):
        return None
    account.email_confirmed = True
    account.save(update_fields=["email_confirmed", "updated_at"])
    record(
        AuditEvent.Action.EMAIL_CONFIRMED,
        actor=account.user,
        establishment=account.student.establishment,
        account=account,
    )
    return account


# --- Mot de passe oublié -----------------------------------------------------------------


def request_reset_link(query: str, *, reset_url_for) -> None:
    """Mail a single-use reset link (valid PASSWORD_RESET_TIMEOUT, 30 minutes) when the
    identifier or address designates an activated account with a confirmed address.

    Returns nothing on purpose: the page says the same whether or not anything was sent."""
    query = (query or "").strip()
    if not query:
        return
    # Siblings may share an address: each of their accounts gets its own link.
    accounts = (
        StudentAccount.objects.select_related("user", "student")
        .filter(
            Q(user__username=query.lower()) | Q(email__iexact=query),
            email_confirmed=True,
            state=AccountState.ACTIVE,
        )
        .order_by("pk")[:MAX_LINKS]
    )
    for account in accounts:
        _send_reset_link(account, reset_url_for)


MAX_LINKS = 10


def _send_reset_link(account: StudentAccount, reset_url_for) -> None:
    uid = urlsafe_base64_encode(force_bytes(account.user_id))
    token = reset_tokens.make_token(account.user)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    _send(
        _("Educompte : réinitialisation de votre mot de passe"),
        _(
            "Bonjour %(first)s,\n\nPour choisir un nouveau mot de passe pour votre compte "
            "Educompte (%(identifier)s), ouvrez ce lien dans les %(minutes)d minutes ; il ne "
            "sert qu'une fois :\n\n%(link)s\n\nSi vous n'êtes pas à l'origine de cette demande, "
            "ignorez ce message : votre mot de passe actuel reste valable."
        )
        % {
            "first": account.student.first_name,
            "identifier": account.identifier,
            "minutes": minutes,
            "link": reset_url_for(uid, token),
        },
        None,
        [account.email],
    )


def account_for_reset_link(uidb64: str, token: str) -> StudentAccount | None:
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    account = (
        StudentAccount.objects.select_related("user", "student")
        .filter(user_id=user_id, state=AccountState.ACTIVE, email_confirmed=True)
        .first()
    )
    if account is None or not reset_tokens.check_token(account.user, token):
        return None
    return account


def _set_password(account: StudentAccount, new_password: str) -> None:
    try:
        password_validation.validate_password(new_password, user=account.user)
    except ValidationError as exc:
        raise ValidationError({"new_password1": list(exc.messages)}) from exc
    account.user.set_password(new_password)  # new hash: the link and other sessions die
    account.user.save(update_fields=["password"])
    throttling.lift([account.user_id])
    credentials_revoked.send(sender=StudentAccount, user_ids=[account.user_id])


@transaction.atomic
def reset_with_link(account: StudentAccount, new_password: str) -> None:
    _set_password(account, new_password)
    record(
        AuditEvent.Action.PASSWORD_RECOVERED,
        actor=account.user,
        establishment=account.student.establishment,
        account=account,
    )


@transaction.atomic
def change_password(account: StudentAccount, current: str, new_password: str) -> None:
    """From the pupil's account page: the current password is required."""
    if not account.user.check_password(current):
        raise ValidationError({"current_password": [_("Mot de passe actuel incorrect.")]})
    _set_password(account, new_password)
    record(
        AuditEvent.Action.PASSWORD_CHANGED,
        actor=account.user,
        establishment=account.student.establishment,
        account=account,
    )


def end_other_sessions(user: User) -> None:
    """Every session but the caller's ends (the view re-signs the current one)."""
    user.session_version += 1
    user.save(update_fields=["session_version"])
    # Services signed in through SSO from those sessions lose their tokens too.
    credentials_revoked.send(sender=StudentAccount, user_ids=[user.pk])
    account = getattr(user, "student_account", None)
    record(
        AuditEvent.Action.SESSIONS_ENDED,
        actor=user,
        establishment=account.student.establishment if account else None,
        account=account,
    )


# --- Demander à mon établissement ----------------------------------------------------------

MAX_OPEN_PER_ACCOUNT = 1


@transaction.atomic
def create_support_request(
    identifier: str, class_given: str, message: str, *, ip: str | None = None
) -> None:
    """File a request with the pupil's school. Silent when the identifier is unknown (the
    answer must not reveal which identifiers exist); one open request per account."""
    account = (
        StudentAccount.objects.select_related("student", "user")
        .filter(user__username=(identifier or "").strip().lower())
        .exclude(state=AccountState.DEACTIVATED)
        .first()
    )
    if account is None:
        return
    existing = SupportRequest.objects.filter(account=account, status=SupportRequest.Status.OPEN)
    if existing.exists():
        existing.update(class_given=class_given[:30], message=message[:500])
        return
    SupportRequest.objects.create(
        account=account,
        establishment=account.student.establishment,
        class_given=class_given[:30],
        message=message[:500],
        ip_address=ip or None,
    )
    record(
        AuditEvent.Action.REQUEST_CREATED,
        actor=account.user,
        establishment=account.student.establishment,
        account=account,
        ip=ip,
    )


def open_requests(agent: User, establishment: Establishment) -> list[SupportRequest]:
    authz.authorize(agent, Right.DEPANNAGE, establishment)
    return list(
        SupportRequest.objects.filter(
            establishment=establishment, status=SupportRequest.Status.OPEN
        )
        .select_related("account__user", "account__student__division")
        .order_by("created_at")
    )


def open_request_count(establishment_id: int) -> int:
    """Open requests of one establishment (the console's tab badge, on every page)."""
    return SupportRequest.objects.filter(
        establishment_id=establishment_id, status=SupportRequest.Status.OPEN
    ).count()


def open_request_counts(establishment_ids: list[int]) -> dict[int, int]:
    from django.db.models import Count

    rows = (
        SupportRequest.objects.filter(
            establishment_id__in=establishment_ids, status=SupportRequest.Status.OPEN
        )
        .values("establishment_id")
        .annotate(n=Count("pk"))
    )
    return {r["establishment_id"]: r["n"] for r in rows}


@transaction.atomic
def close_request(
    agent: User,
    establishment: Establishment,
    request_id: int,
    *,
    handled: bool,
    ip: str | None = None,
) -> SupportRequest:
    authz.authorize(agent, Right.DEPANNAGE, establishment)
    req = SupportRequest.objects.select_for_update().get(
        pk=request_id, establishment=establishment, status=SupportRequest.Status.OPEN
    )
    req.status = SupportRequest.Status.HANDLED if handled else SupportRequest.Status.DISMISSED
    req.handled_at = timezone.now()
    req.handled_by = agent
    req.save(update_fields=["status", "handled_at", "handled_by"])
    record(
        AuditEvent.Action.REQUEST_CLOSED,
        actor=agent,
        establishment=establishment,
        account=req.account,
        ip=ip,
        outcome=req.status,
    )
    return req
