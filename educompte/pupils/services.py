"""Changes to pupils and their accounts. Views, commands and tests all call these."""

from __future__ import annotations

import dataclasses
import datetime
import enum

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from educompte.accounts import authz, throttling
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record, record_many
from educompte.core import crypto, hashers
from educompte.pupils import lifecycle, passwords
from educompte.pupils.lifecycle import AccountDeactivated as AccountDeactivated
from educompte.pupils.lifecycle import encryption_context as encryption_context
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.schools.models import Division, Establishment

# The pupil and the account are created by the lifecycle (one home for account states).
create_student_with_account = lifecycle.create


class ResetLimitReached(Exception):
    """The agent reached the daily reset ceiling (EDUCOMPTE_DAILY_RESET_LIMIT)."""

    def __init__(self, limit: int, remaining: int) -> None:
        super().__init__(f"daily reset limit {limit} reached ({remaining} left)")
        self.limit = limit
        self.remaining = remaining


def resets_today(agent: User, now: datetime.datetime | None = None) -> int:
    now = timezone.localtime(now or timezone.now())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return AuditEvent.objects.filter(
        actor=agent, action=AuditEvent.Action.PASSWORD_RESET, created_at__gte=midnight
    ).count()


def _check_reset_limit(agent: User, wanted: int) -> None:
    limit = settings.EDUCOMPTE_DAILY_RESET_LIMIT
    remaining = max(limit - resets_today(agent), 0)
    if wanted > remaining:
        raise ResetLimitReached(limit, remaining)


def _maybe_alert(agent: User, establishment: Establishment) -> None:
    """Tell the heads when an agent resets unusually many accounts within an hour."""
    from educompte.accounts.models import StaffAlert
    from educompte.accounts.services import heads_of

    threshold = settings.EDUCOMPTE_RESET_ALERT_PER_HOUR
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    count = AuditEvent.objects.filter(
        actor=agent,
        action=AuditEvent.Action.PASSWORD_RESET,
        establishment=establishment,
        created_at__gte=hour_ago,
    ).count()
    if count <= threshold:
        return
    if StaffAlert.objects.filter(
        establishment=establishment, agent=agent, kind="resets", created_at__gte=hour_ago
    ).exists():
        return  # one alert an hour is enough
    message = _(
        "%(agent)s a réinitialisé %(count)d mots de passe en moins d'une heure sur "
        "%(establishment)s (seuil d'alerte : %(threshold)d)."
    ) % {
        "agent": agent.display_name + f" ({agent.username})",
        "count": count,
        "establishment": establishment.name,
        "threshold": threshold,
    }
    StaffAlert.objects.create(
        establishment=establishment, agent=agent, kind="resets", message=message
    )
    record(AuditEvent.Action.RESET_ALERT, actor=agent, establishment=establishment, count=count)
    recipients = [h.email for h in heads_of(establishment) if h.email]
    if recipients:
        from django.core.mail import send_mail

        transaction.on_commit(
            lambda: send_mail(
                _("[Educompte] Alerte : nombreuses réinitialisations de mots de passe"),
                message + "\n\n" + _("Consultez le journal dans Administration des comptes."),
                None,
                recipients,
                fail_silently=True,
            )
        )


def _context(account: StudentAccount) -> str:
    return encryption_context(account.user_id)


def provisional_password(account: StudentAccount) -> str | None:
    """The provisional password in clear, while the account is not activated."""
    if account.state not in lifecycle.WAITING:
        return None
    if not account.provisional_password_encrypted:
        return None
    return crypto.decrypt(account.provisional_password_encrypted, _context(account))


def provisional_expired(account: StudentAccount, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    return account.provisional_expires_at is not None and account.provisional_expires_at <= now


def _reset_one(agent: User, account: StudentAccount, ip: str | None) -> str:
    password = lifecycle.reset(account)
    record(
        AuditEvent.Action.PASSWORD_RESET,
        actor=agent,
        establishment=account.student.establishment,
        account=account,
        ip=ip,
    )
    return password


def _close_requests_answered(
    agent: User, establishment: Establishment, accounts: list[StudentAccount], ip: str | None
) -> None:
    """New credentials answer the pupils' open « Demander à mon établissement »: the
    requests are marked handled (the « Demandes » tab and the portal count follow)."""
    open_requests = list(
        SupportRequest.objects.filter(
            account__in=accounts, establishment=establishment, status=SupportRequest.Status.OPEN
        ).select_related("account")
    )
    if not open_requests:
        return
    SupportRequest.objects.filter(pk__in=[r.pk for r in open_requests]).update(
        status=SupportRequest.Status.HANDLED, handled_at=timezone.now(), handled_by=agent
    )
    record_many(
        AuditEvent.Action.REQUEST_CLOSED,
        [(r.account, {"outcome": SupportRequest.Status.HANDLED}) for r in open_requests],
        actor=agent,
        establishment=establishment,
        ip=ip,
    )


@transaction.atomic
def reset_password(agent: User, account: StudentAccount, *, ip: str | None = None) -> str:
    """Staff reset: new provisional password, state "Non activé - informé", sessions ended."""
    establishment = account.student.establishment
    authz.authorize(agent, Right.DEPANNAGE, establishment)
    _check_reset_limit(agent, 1)
    with transaction.atomic():
        password = _reset_one(agent, account, ip)
        _close_requests_answered(agent, establishment, [account], ip)
    _maybe_alert(agent, establishment)
    return password


@dataclasses.dataclass
class BulkResetResult:
    reset: list[tuple[StudentAccount, str]]
    skipped: list[StudentAccount]


@transaction.atomic
def reset_passwords(
    agent: User, establishment: Establishment, account_ids: list[int], *, ip: str | None = None
) -> BulkResetResult:
    """Reset several accounts of one establishment; ids outside it are ignored."""
    authz.authorize(agent, Right.DEPANNAGE, establishment)
    accounts = (
        StudentAccount.objects.select_related("user", "student", "student__division")
        .select_for_update(of=("self",))
        .filter(pk__in=account_ids, student__establishment=establishment)
        .order_by("student__last_name", "student__first_name")
    )
    accounts = list(accounts)
    resettable = [lifecycle.allowed(lifecycle.Event.RESET, a.state) for a in accounts]
    _check_reset_limit(agent, sum(resettable))
    result = BulkResetResult(reset=[], skipped=[])
    for account, allowed in zip(accounts, resettable, strict=True):
        if not allowed:  # deactivated
            result.skipped.append(account)
        else:
            result.reset.append((account, _reset_one(agent, account, ip)))
    _close_requests_answered(agent, establishment, [a for a, _pw in result.reset], ip)
    _maybe_alert(agent, establishment)
    return result


# --- Pupil sign-in and activation -------------------------------------------------------


class SignIn(enum.Enum):
    ACTIVATE = "activate"  # right provisional password: go to activation
    OK = "ok"  # right chosen password
    FAILED = "failed"  # unknown identifier or wrong password (never told apart)
    LOCKED = "locked"  # too many failures: wait until ``retry_at``
    EXPIRED = "expired"  # right provisional password, but past its expiry date
    DEACTIVATED = "deactivated"  # right password on a deactivated account


@dataclasses.dataclass
class SignInResult:
    outcome: SignIn
    account: StudentAccount | None = None
    retry_at: datetime.datetime | None = None


def sign_in_pupil(
    identifier: str, password: str, *, ip: str = "", now: datetime.datetime | None = None
) -> SignInResult:
    """Check a pupil's credentials behind the sign-in throttling (see accounts.throttling).

    Every checked attempt costs exactly one Argon2id run, whatever the account's state and
    whether the identifier exists, so that its time tells nothing: a chosen password is
    verified, a provisional one (AES-GCM, constant-time comparison) is paired with a dummy
    run, an unknown identifier gets the dummy run alone."""
    now = now or timezone.now()
    identifier = (identifier or "").strip().lower()
    # The identifier is unique: a plain [:1], without the ORDER BY that first() adds (this
    # runs on every sign-in; see bench/signin.py).
    found = StudentAccount.objects.select_related("user").filter(
        user__username=identifier, user__kind=User.Kind.PUPIL
    )[:1]
    account = next(iter(found), None)
    if account is None:
        verdict = throttling.check(None, ip, now, name=identifier)
        if not verdict.allowed:
            return SignInResult(SignIn.LOCKED, None, retry_at=verdict.retry_at)
        hashers.dummy_verify(password)
        verdict = throttling.record_unknown_failure(ip, now, name=identifier)
        if not verdict.allowed:
            return SignInResult(SignIn.LOCKED, None, retry_at=verdict.retry_at)
        return SignInResult(SignIn.FAILED)
    verdict = throttling.check(account.user_id, ip, now)
    if not verdict.allowed:
        return SignInResult(SignIn.LOCKED, account, retry_at=verdict.retry_at)

    if account.state in (AccountState.ACTIVE, AccountState.DEACTIVATED):
        # One Argon2id run, also on an unusable hash (Django then hashes a random string).
        # Only the right chosen password learns that the account is deactivated.
        right = account.user.check_password(password)
        outcome = SignIn.OK if account.state == AccountState.ACTIVE else SignIn.DEACTIVATED
    else:
        stored = provisional_password(account)
        right = stored is not None and passwords.matches(stored, password)
        hashers.dummy_verify(password)
        outcome = SignIn.ACTIVATE

    if not right:
        verdict = throttling.record_failure(account.user_id, ip, now)
        if not verdict.allowed:
            return SignInResult(SignIn.LOCKED, account, retry_at=verdict.retry_at)
        return SignInResult(SignIn.FAILED)

    # Wrong dates of birth stay until the right one: whoever guesses them holds the
    # provisional password, and signing in again must not give them five more free tries.
    if not (outcome is SignIn.ACTIVATE and verdict.birth_date_failures):
        throttling.record_success(account.user_id, ip, verdict)
    if outcome == SignIn.ACTIVATE and provisional_expired(account, now):
        return SignInResult(SignIn.EXPIRED, account)
    return SignInResult(outcome, account)


class ActivationLocked(Exception):
    """Too many failures (wrong dates of birth and wrong passwords alike): the activation
    waits until ``retry_at``."""

    def __init__(self, retry_at: datetime.datetime | None) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


def activation_locked_until(
    account: StudentAccount, *, ip: str = "", now: datetime.datetime | None = None
) -> datetime.datetime | None:
    """When the activation of this account from this address may go on, if it must wait."""
    verdict = throttling.check(account.user_id, ip, now or timezone.now())
    return None if verdict.allowed else verdict.retry_at


def activate(
    account: StudentAccount,
    *,
    new_password: str,
    birth_date: datetime.date,
    ip: str = "",
    now: datetime.datetime | None = None,
) -> None:
    """The pupil chooses a password and confirms the date of birth.

    The date of birth is checked behind the sign-in throttling: a wrong one counts as a
    failed sign-in of the account from ``ip``; a right one clears this address's consecutive
    failures like a right password. Raises ActivationLocked when the account must wait
    (also on the failure that starts the wait), ValidationError (field -> messages) on bad
    input; changes nothing but the counters then.
    """
    now = now or timezone.now()
    verdict = throttling.check(account.user_id, ip, now)
    if not verdict.allowed:
        raise ActivationLocked(verdict.retry_at)
    errors: dict[str, list[str]] = {}
    if account.student.birth_date != birth_date:
        failure = throttling.record_birth_date_failure(account.user_id, ip, now)
        if not failure.allowed:
            raise ActivationLocked(failure.retry_at)
        errors["birth_date"] = [
            _(
                "La date de naissance ne correspond pas. Vérifiez-la ou adressez-vous à "
                "votre établissement."
            )
        ]
    else:
        throttling.record_success(account.user_id, ip, verdict)
    try:
        password_validation.validate_password(new_password, user=account.user)
    except ValidationError as exc:
        errors["new_password1"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lifecycle.activate(account, new_password=new_password, now=now)
        throttling.lift([account.user_id])
        record(
            AuditEvent.Action.ACCOUNT_ACTIVATED,
            actor=account.user,
            establishment=account.student.establishment,
            account=account,
        )


# --- Administration des comptes: lifecycle actions ----------------------------------------


def _scoped_accounts(
    agent: User, establishment: Establishment, account_ids: list[int]
) -> list[StudentAccount]:
    authz.authorize(agent, Right.ADMINISTRATION, establishment)
    return list(
        StudentAccount.objects.select_related("user", "student")
        .select_for_update(of=("self",))
        .filter(pk__in=account_ids, student__establishment=establishment)
        .order_by("pk")
    )


@transaction.atomic
def deactivate(
    agent: User,
    establishment: Establishment,
    account_ids: list[int],
    *,
    reason: str,
    ip: str | None = None,
) -> int:
    """Deactivate accounts (pupil left, misuse…): sign-in refused, sessions ended."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": [_("Indiquez le motif de la désactivation.")]})
    done = lifecycle.deactivate(_scoped_accounts(agent, establishment, account_ids), by_staff=True)
    record_many(
        AuditEvent.Action.ACCOUNT_DEACTIVATED,
        [(account, {"reason": reason[:500]}) for account in done],
        actor=agent,
        establishment=establishment,
        ip=ip,
    )
    return len(done)


@transaction.atomic
def reactivate(
    agent: User,
    establishment: Establishment,
    account_ids: list[int],
    *,
    reason: str,
    ip: str | None = None,
) -> int:
    """Reactivate accounts with a fresh provisional password ("Non activé - non informé")."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": [_("Indiquez le motif de la réactivation.")]})
    done = 0
    for account in _scoped_accounts(agent, establishment, account_ids):
        if not lifecycle.allowed(lifecycle.Event.REACTIVATION, account.state):
            continue
        lifecycle.reactivate(account)
        record(
            AuditEvent.Action.ACCOUNT_REACTIVATED,
            actor=agent,
            establishment=establishment,
            account=account,
            ip=ip,
            reason=reason[:500],
        )
        done += 1
    return done


@transaction.atomic
def unlock(
    agent: User, establishment: Establishment, account_ids: list[int], *, ip: str | None = None
) -> int:
    """Lift the sign-in throttling of accounts (staff with dépannage may do it)."""
    authz.authorize(agent, Right.DEPANNAGE, establishment)
    accounts = list(
        StudentAccount.objects.select_related("user")
        .filter(pk__in=account_ids, student__establishment=establishment)
        .order_by("pk")
    )
    blocked = throttling.blocked_until([a.user_id for a in accounts])
    done = 0
    for account in accounts:
        if account.user_id not in blocked:
            continue
        throttling.lift([account.user_id])
        record(
            AuditEvent.Action.ACCOUNT_UNLOCKED,
            actor=agent,
            establishment=establishment,
            account=account,
            ip=ip,
        )
        done += 1
    return done


@transaction.atomic
def force_password_change(
    agent: User,
    establishment: Establishment,
    *,
    account_ids: list[int] | None = None,
    division: Division | None = None,
    whole_establishment: bool = False,
    ip: str | None = None,
) -> list[StudentAccount]:
    """Give every targeted (non-deactivated) account a new provisional password and end its
    sessions: the answer to a mass account theft. Accounts become "Non activé - non informé"
    until the new credentials are handed out."""
    authz.authorize(agent, Right.ADMINISTRATION, establishment)
    qs = (
        StudentAccount.objects.select_related("user", "student")
        .filter(student__establishment=establishment)
        .exclude(state=AccountState.DEACTIVATED)
    )
    if whole_establishment:
        scope = {"scope": "establishment"}
    elif division is not None:
        if division.establishment_id != establishment.pk:
            raise ValidationError(_("Cette classe n'appartient pas à l'établissement."))
        qs = qs.filter(student__division=division)
        scope = {"scope": "division", "division": division.code}
    elif account_ids:
        qs = qs.filter(pk__in=account_ids)
        scope = {"scope": "selection"}
    else:
        raise ValidationError(_("Choisissez une sélection, une classe ou tout l'établissement."))
    accounts = list(qs.select_for_update(of=("self",)).order_by("pk"))
    for account in accounts:
        lifecycle.force_change(account)
    _close_requests_answered(agent, establishment, accounts, ip)
    # One event per account, so the pupil's own history shows it too.
    record_many(
        AuditEvent.Action.FORCED_CHANGE,
        [(account, scope) for account in accounts],
        actor=agent,
        establishment=establishment,
        ip=ip,
    )
    return accounts
