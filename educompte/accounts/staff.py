"""Staff accounts from the web: the head of an establishment invites its agents (they get a
link to choose their password), agents recover a forgotten password by e-mail and change
it in « Mon compte ». The command line (``educompte add-agent``) stays for the academy.

The invitation link is signed and lives a week, and only while the agent has no password
yet: once chosen, it is dead. A recovery link is Django's reset token (30 minutes, dead
once the password changes), sent only to an agent's recorded address."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from educompte.accounts import authz, throttling
from educompte.accounts.models import Assignment, Delegation, User
from educompte.accounts.services import validate_login
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.core.after_response import Defer
from educompte.core.links import absolute_reverse
from educompte.core.mail import send_later
from educompte.core.text import ascii_letters
from educompte.schools.models import Establishment

INVITATION_DAYS = 7
_INVITATION_SALT = "educompte.accounts.staff.invitation"


class _RecoveryTokens(PasswordResetTokenGenerator):
    """Django's reset tokens, bound to the agent's address too."""

    key_salt = "educompte.accounts.staff.RecoveryTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return super()._make_hash_value(user, timestamp) + user.email


recovery_tokens = _RecoveryTokens()


TooManyAttempts = throttling.TooManyAttempts


# --- The establishment's staff -------------------------------------------------------------


def staff_of(user: authz.Principal, establishment: Establishment) -> list[User]:
    """The agents placed in the establishment or delegated a right there (heads apart),
    for « Personnels » and the delegation form. The head of the establishment only."""
    authz.require_head(user, establishment)
    today = timezone.localdate()
    placed = Assignment.objects.filter(
        establishment=establishment, role=Assignment.Role.STAFF
    ).values("agent_id")
    delegated = Delegation.objects.filter(
        establishment=establishment, revoked_at__isnull=True, end__gte=today
    ).values("agent_id")
    return list(
        User.objects.filter(kind=User.Kind.AGENT, is_active=True)
        .filter(models.Q(pk__in=placed) | models.Q(pk__in=delegated))
        .order_by("last_name", "first_name", "username")
    )


def _new_login(first_name: str, last_name: str) -> str:
    """« claire.fabre », then « claire.fabre2 »… (staff logins have a dot, pupils' none)."""
    first = ascii_letters(first_name)[:20] or "agent"
    last = ascii_letters(last_name)[:30] or "agent"
    base = validate_login(f"{first}.{last}")
    taken = set(User.objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    return next(f"{base}{n}" for n in range(2, 10_000) if f"{base}{n}" not in taken)


@transaction.atomic
def invite_agent(
    head: authz.Principal,
    establishment: Establishment,
    *,
    first_name: str,
    last_name: str,
    email: str,
    defer: Defer | None = None,
) -> User:
    """Create the agent (or place an agent who already has an account with this address)
    in the establishment, and mail the link to choose a password. The head only."""
    authz.require_head(head, establishment)
    first_name, last_name, email = first_name.strip(), last_name.strip(), email.strip()
    errors: dict[str, list[str]] = {}
    if not first_name:
        errors["first_name"] = [_("Indiquez le prénom.")]
    if not last_name:
        errors["last_name"] = [_("Indiquez le nom.")]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Saisissez une adresse électronique valide.")]
    if errors:
        raise ValidationError(errors)
    agent = User.objects.filter(kind=User.Kind.AGENT, email__iexact=email).first()
    if User.objects.filter(email__iexact=email).exclude(kind=User.Kind.AGENT).exists():
        raise ValidationError({"email": [_("Cette adresse est celle d'un élève.")]})
    if agent is None:
        login = _new_login(first_name, last_name)
        agent = User.objects.create_user(
            login,
            password=None,
            email=email,
            kind=User.Kind.AGENT,
            first_name=first_name[:150],
            last_name=last_name[:150],
        )
        record(
            AuditEvent.Action.AGENT_CREATED,
            actor=head,
            establishment=establishment,
            login=login,
            role=Assignment.Role.STAFF,
        )
    Assignment.objects.get_or_create(
        agent=agent, establishment=establishment, role=Assignment.Role.STAFF
    )
    authz.forget_grants(agent)
    if not agent.has_usable_password():
        send_invitation(agent, establishment, defer=defer)
    return agent


def invitation_token(agent: User) -> str:
    return signing.dumps(agent.pk, salt=_INVITATION_SALT, compress=True)


def send_invitation(agent: User, establishment: Establishment, *, defer: Defer | None) -> None:
    link = absolute_reverse("portal:invitation", invitation_token(agent))
    send_later(
        _("Educompte : votre compte pour %(establishment)s") % {"establishment": establishment},
        _(
            "Bonjour %(first)s,\n\nUn compte Educompte a été créé pour vous dans "
            "l'établissement %(establishment)s. Votre identifiant de connexion est "
            "%(login)s.\n\nPour choisir votre mot de passe, ouvrez ce lien dans les "
            "%(days)d jours ; il ne sert qu'une fois :\n\n%(link)s\n\nSi vous ne vous "
            "attendiez pas à ce message, ignorez-le et prévenez votre chef d'établissement."
        )
        % {
            "first": agent.first_name,
            "establishment": establishment,
            "login": agent.username,
            "days": INVITATION_DAYS,
            "link": link,
        },
        [agent.email],
        defer,
    )


def invite_again(
    head: authz.Principal, establishment: Establishment, agent_id: int, *, defer: Defer | None
) -> User | None:
    """A new invitation link for an agent of the establishment who has an address and has
    not chosen a password yet (the head only); None when there is nobody to invite."""
    agent = next((a for a in staff_of(head, establishment) if a.pk == agent_id), None)
    if agent is None or agent.has_usable_password() or not agent.email:
        return None
    send_invitation(agent, establishment, defer=defer)
    return agent


def agent_for_invitation(token: str) -> User | None:
    """The invited agent, while the link is valid (a week) and no password was chosen."""
    try:
        agent_id = signing.loads(
            token, salt=_INVITATION_SALT, max_age=datetime.timedelta(days=INVITATION_DAYS)
        )
    except signing.BadSignature:
        return None
    agent = User.objects.filter(pk=agent_id, kind=User.Kind.AGENT, is_active=True).first()
    if agent is None or agent.has_usable_password():
        return None
    return agent


# --- Choosing, recovering and changing the password ---------------------------------------


def set_password(agent: User, new_password: str) -> None:
    """From an invitation or a recovery link. Validated by Django's validators; every
    other session of the agent ends (new hash)."""
    try:
        password_validation.validate_password(new_password, user=agent)
    except ValidationError as exc:
        raise ValidationError({"new_password1": list(exc.messages)}) from exc
    with transaction.atomic():
        agent.set_password(new_password)
        agent.save(update_fields=["password"])
        throttling.lift([agent.pk])
        record(AuditEvent.Action.STAFF_PASSWORD_SET, actor=agent)


def request_recovery_link(query: str, *, defer: Defer | None = None) -> None:
    """Mail a recovery link to the agent with this login or address, if it has one.
    Silent either way: the page must not tell which logins or addresses exist."""
    query = (query or "").strip()
    if not query:
        return
    agents = User.objects.filter(kind=User.Kind.AGENT, is_active=True).exclude(email="")
    agent = (
        agents.filter(email__iexact=query).first()
        if "@" in query
        else agents.filter(username=query.lower()).first()
    )
    if agent is None or not agent.has_usable_password():
        return
    uid = urlsafe_base64_encode(force_bytes(agent.pk))
    link = absolute_reverse("portal:recovery_link", uid, recovery_tokens.make_token(agent))
    send_later(
        _("Educompte : nouveau mot de passe"),
        _(
            "Bonjour %(first)s,\n\nPour choisir un nouveau mot de passe pour votre compte "
            "Educompte (%(login)s), ouvrez ce lien dans les %(minutes)d minutes ; il ne sert "
            "qu'une fois :\n\n%(link)s\n\nSi vous n'êtes pas à l'origine de cette demande, "
            "ignorez ce message : votre mot de passe actuel reste valable."
        )
        % {
            "first": agent.first_name,
            "login": agent.username,
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            "link": link,
        },
        [agent.email],
        defer,
    )


def agent_for_recovery_link(uidb64: str, token: str) -> User | None:
    try:
        agent_id = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    agent = User.objects.filter(pk=agent_id, kind=User.Kind.AGENT, is_active=True).first()
    if agent is None or not recovery_tokens.check_token(agent, token):
        return None
    return agent


def change_password(agent: User, current: str, new_password: str, *, ip: str) -> None:
    """From « Mon compte »: the current password first, behind the sign-in counters (a
    session left open must not become a way to guess it)."""
    throttling.check_current_password(agent, current, ip=ip)
    set_password(agent, new_password)
