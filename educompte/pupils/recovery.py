"""Pupil self-service: e-mail address with confirmation, "Mot de passe oublié" by link,
requests to the school, password change and ending the other sessions."""

from __future__ import annotations

import datetime
import enum

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
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
from educompte.core.after_response import Defer
from educompte.core.mail import send_later
from educompte.core.text import normalize
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.pupils.signals import credentials_revoked
from educompte.schools.models import Establishment

_EMAIL_SALT = "educompte.pupils.email-confirmation"


class _ResetTokens(PasswordResetTokenGenerator):
    """Django's reset tokens, also bound to the pupil's address: a link dies when the
    address changes, as it dies when the password changes or the pupil signs in."""

    key_salt = "educompte.pupils.recovery.ResetTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        account = getattr(user, "student_account", None)
        email = f"{account.email}:{account.email_confirmed}" if account else ""
        return super()._make_hash_value(user, timestamp) + email


reset_tokens = _ResetTokens()


# --- The current password, asked before a change in "Mon compte" --------------------------


# One class and one check for pupils and staff (accounts.throttling).
TooManyAttempts = throttling.TooManyAttempts


def check_current_password(account: StudentAccount, password: str, *, ip: str) -> None:
    throttling.check_current_password(account.user, password, ip=ip)


# --- The recovery address ------------------------------------------------------------------


def _email_digest(account: StudentAccount) -> str:
    # Bound to the address waiting for confirmation: a link works once, and dies when
    # another address is given or the change is cancelled.
    return salted_hmac(_EMAIL_SALT, f"{account.pk}:{account.pending_email}").hexdigest()[:20]


def email_confirmation_token(account: StudentAccount) -> str:
    return signing.dumps({"a": account.pk, "d": _email_digest(account)}, salt=_EMAIL_SALT)


def mask_email(address: str) -> str:
    """``n***@e***.org``: enough for the owner to recognise an address, not to write to it
    (nor to learn its length)."""
    local, _at, domain = address.rpartition("@")
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    return f"{local[:1]}***@{name[:1]}***{dot}{tld}"


def _confirmed_email(account: StudentAccount) -> str:
    return account.email if account.email and account.email_confirmed else ""


def set_email(
    account: StudentAccount, email: str, *, confirm_url_for, defer: Defer | None = None
) -> None:
    """Record an address to confirm and mail it a confirmation link.

    It becomes the recovery address only when the link is followed; until then a confirmed
    address stays the one reset links go to, and it is told of the change (with the new
    address masked). ``confirm_url_for(token)`` builds the absolute link."""
    email = email.strip()
    validate_email(email)
    account.pending_email = email
    account.save(update_fields=["pending_email", "updated_at"])
    link = confirm_url_for(email_confirmation_token(account))
    hours = settings.EDUCOMPTE_EMAIL_CONFIRM_HOURS
    send_later(
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
        [email],
        defer,
    )
    old = _confirmed_email(account)
    if old and old.lower() != email.lower():
        send_later(
            _("Educompte : changement de votre adresse électronique"),
            _(
                "Bonjour %(first)s,\n\nUne nouvelle adresse électronique (%(masked)s) a été "
                "indiquée pour votre compte Educompte (%(identifier)s). Elle remplacera "
                "celle-ci dès qu'elle aura été confirmée ; d'ici là, les liens de "
                "réinitialisation du mot de passe restent envoyés ici.\n\n"
                "Si vous n'êtes pas à l'origine de ce changement, quelqu'un connaît peut-être "
                "votre mot de passe : choisissez-en un nouveau tout de suite avec « Mot de "
                "passe oublié » sur la page de connexion (cela annule aussi le changement "
                "d'adresse), ou adressez-vous à votre établissement."
            )
            % {
                "first": account.student.first_name,
                "identifier": account.identifier,
                "masked": mask_email(email),
            },
            [old],
            defer,
        )


class EmailChange(enum.Enum):
    PENDING = "pending"  # a confirmation link went to the new address
    UNCHANGED = "unchanged"  # the confirmed address was given again
    REMOVED = "removed"


def change_email(
    account: StudentAccount,
    email: str,
    current_password: str,
    *,
    ip: str,
    confirm_url_for,
    defer: Defer | None = None,
) -> EmailChange:
    """From "Mon compte": give a new address (to confirm) or, with an empty one, remove the
    addresses. The current password is asked first (throttled, see
    ``check_current_password``); a confirmed address is told of any change."""
    check_current_password(account, current_password, ip=ip)
    email = (email or "").strip()
    old = _confirmed_email(account)
    if email and old.lower() == email.lower():
        if account.pending_email:  # giving the confirmed address back cancels a change
            account.pending_email = ""
            account.save(update_fields=["pending_email", "updated_at"])
        return EmailChange.UNCHANGED
    audit = {"actor": account.user, "establishment": account.student.establishment}
    if email:
        set_email(account, email, confirm_url_for=confirm_url_for, defer=defer)
        # The address itself stays out of the journal: staff see it in the console.
        record(AuditEvent.Action.EMAIL_CHANGE_REQUESTED, account=account, ip=ip, **audit)
        return EmailChange.PENDING
    account.email, account.email_confirmed, account.pending_email = "", False, ""
    account.save(update_fields=["email", "email_confirmed", "pending_email", "updated_at"])
    record(AuditEvent.Action.EMAIL_REMOVED, account=account, ip=ip, **audit)
    if old:
        send_later(
            _("Educompte : adresse électronique retirée"),
            _(
                "Bonjour %(first)s,\n\nCette adresse électronique a été retirée de votre "
                "compte Educompte (%(identifier)s) : les liens de réinitialisation du mot de "
                "passe n'y seront plus envoyés.\n\n"
                "Si vous n'êtes pas à l'origine de ce changement, quelqu'un connaît peut-être "
                "votre mot de passe : adressez-vous à votre établissement (« Demander à mon "
                "établissement » sur la page « Mot de passe oublié »)."
            )
            % {"first": account.student.first_name, "identifier": account.identifier},
            [old],
            defer,
        )
    return EmailChange.REMOVED


@transaction.atomic
def confirm_email(token: str) -> StudentAccount | None:
    """The account whose new address the link confirms (it becomes the recovery address),
    or None (expired, used, replaced, tampered)."""
    try:
        data = signing.loads(
            token, salt=_EMAIL_SALT, max_age=settings.EDUCOMPTE_EMAIL_CONFIRM_HOURS * 3600
        )
    except signing.BadSignature:
        return None
    account = (
        StudentAccount.objects.select_for_update(of=("self",))
        .select_related("student", "user")
        .filter(pk=data.get("a"))
        .first()
    )
    if account is None or not account.pending_email or data.get("d") != _email_digest(account):
        return None
    account.email, account.email_confirmed = account.pending_email, True
    account.pending_email = ""
    account.save(update_fields=["email", "email_confirmed", "pending_email", "updated_at"])
    record(
        AuditEvent.Action.EMAIL_CONFIRMED,
        actor=account.user,
        establishment=account.student.establishment,
        account=account,
    )
    return account


# --- Mot de passe oublié -----------------------------------------------------------------


def request_reset_link(query: str, *, reset_url_for, defer: Defer | None = None) -> None:
    """Mail a single-use reset link (valid PASSWORD_RESET_TIMEOUT, 30 minutes) when the
    identifier or address designates an activated account with a confirmed address.

    Returns nothing on purpose: the page says the same whether or not anything was sent;
    the page passes ``defer`` so that it does not take longer either (SMTP)."""
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
        _send_reset_link(account, reset_url_for, defer)


MAX_LINKS = 10


def _send_reset_link(account: StudentAccount, reset_url_for, defer: Defer | None) -> None:
    uid = urlsafe_base64_encode(force_bytes(account.user_id))
    token = reset_tokens.make_token(account.user)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    send_later(
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
        [account.email],
        defer,
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
    if account.pending_email:
        # Whoever knew the old password may have given their own address: its link dies.
        account.pending_email = ""
        account.save(update_fields=["pending_email", "updated_at"])
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


def change_password(
    account: StudentAccount, current: str, new_password: str, *, ip: str = ""
) -> None:
    """From the pupil's account page: the current password is required (throttled, see
    ``check_current_password``)."""
    check_current_password(account, current, ip=ip)
    with transaction.atomic():
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


def _account_asking(
    identifier: str,
    class_given: str,
    last_name: str,
    first_name: str,
    birth_date: datetime.date | None,
) -> StudentAccount | None:
    """The live account a request is about: by identifier, or else by name, first name and
    date of birth (the class tells homonyms born the same day apart). Nobody when that
    is not exactly one pupil."""
    live = StudentAccount.objects.select_related("student__division", "user").exclude(
        state=AccountState.DEACTIVATED
    )
    identifier = (identifier or "").strip().lower()
    if identifier:
        return live.filter(user__username=identifier).first()
    if not (last_name.strip() and first_name.strip() and birth_date):
        return None
    found = list(
        live.filter(
            student__search_name=normalize(f"{last_name} {first_name}"),
            student__birth_date=birth_date,
        )[:20]
    )
    if len(found) > 1:
        wanted = normalize(class_given).replace(" ", "")
        found = [
            a
            for a in found
            if a.student.division_id
            and normalize(a.student.division.code).replace(" ", "") == wanted
        ]
    return found[0] if len(found) == 1 else None


@transaction.atomic
def create_support_request(
    identifier: str,
    class_given: str,
    message: str,
    *,
    last_name: str = "",
    first_name: str = "",
    birth_date: datetime.date | None = None,
    ip: str | None = None,
) -> None:
    """File a request with the pupil's school, found by identifier or else by name, first
    name and date of birth. Silent when nobody (or more than one pupil) matches: the
    answer must not reveal who has an account; one open request per account."""
    account = _account_asking(identifier, class_given, last_name, first_name, birth_date)
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
