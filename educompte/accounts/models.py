"""Sign-in identities (pupils and staff share one table of logins) and staff rights."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    def create_user(self, username: str, password: str | None = None, **extra) -> User:
        user = self.model(username=username, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A login. Pupils and staff agents are kept apart by ``kind``; identifiers are unique
    across the whole installation, so a pupil identifier can never collide with a login."""

    class Kind(models.TextChoices):
        PUPIL = "pupil", _("élève")
        AGENT = "agent", _("agent")

    username = models.CharField(_("identifiant"), max_length=150, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    email = models.EmailField(_("adresse électronique"), blank=True)
    is_active = models.BooleanField(default=True)
    is_academy_admin = models.BooleanField(_("administrateur académique"), default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped to end every other session without changing the password.
    session_version = models.PositiveIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.username

    @property
    def is_agent(self) -> bool:
        return self.kind == self.Kind.AGENT

    @property
    def is_pupil(self) -> bool:
        return self.kind == self.Kind.PUPIL

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.username

    def get_session_auth_hash(self) -> str:
        """Sessions die when the password changes (Django) or when ``session_version`` is
        bumped ("Fermer mes autres sessions")."""
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "educompte.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_version}",
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_fallback_hash(self):
        from django.conf import settings
        from django.utils.crypto import salted_hmac

        for secret in settings.SECRET_KEY_FALLBACKS:
            yield salted_hmac(
                "educompte.accounts.User.get_session_auth_hash",
                f"{self.password}:{self.session_version}",
                secret=secret,
                algorithm="sha256",
            ).hexdigest()

    # No Django admin: these exist for libraries that ask.
    is_staff = False
    is_superuser = False


class Right(models.TextChoices):
    DEPANNAGE = "depannage", _("Dépannage des comptes élèves")
    ADMINISTRATION = "administration", _("Administration des comptes")


class Assignment(models.Model):
    """An agent's place in an establishment: head (holds every right) or staff member."""

    class Role(models.TextChoices):
        HEAD = "head", _("chef d'établissement")
        STAFF = "staff", _("personnel")

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="assignments"
    )
    role = models.CharField(max_length=8, choices=Role.choices)
    start = models.DateField(default=timezone.localdate)
    end = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "establishment", "role"], name="assignment_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.role} {self.establishment_id}"


class Delegation(models.Model):
    """A right on an establishment delegated to an agent, from ``start`` to ``end`` inclusive."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="delegations")
    establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="delegations"
    )
    right = models.CharField(max_length=16, choices=Right.choices)
    start = models.DateField(default=timezone.localdate)
    end = models.DateField()
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["agent", "establishment", "right"])]

    def __str__(self) -> str:
        return f"{self.agent} {self.right} {self.establishment_id} until {self.end}"


class StaffAlert(models.Model):
    """Something a head must see on their portal (e.g. unusually many resets by an agent)."""

    establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="alerts"
    )
    agent = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=32)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class ThrottleCounter(models.Model):
    """Sign-in failure counters shared by every app process (they live in the database).

    ``kind`` says what is counted: failures of one account from one address (``pair``),
    failures of one account from anywhere in 24 hours (``account``), failed sign-ins from
    one address (``address``), or requests to the recovery pages from one address
    (``recovery``: kept apart, so that they never lock anyone's sign-in)."""

    class Kind(models.TextChoices):
        PAIR = "pair"
        ACCOUNT = "account"
        ADDRESS = "address"
        RECOVERY = "recovery"

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # Of a pair's failures, the wrong dates of birth at activation: the provisional
    # password, which the guesser holds, must not clear them (only the right date does).
    birth_date_failures = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "locked_until"], name="throttle_user_lock")]

    def __str__(self) -> str:
        return f"{self.key} {self.count}"


class SignInFailure(models.Model):
    """One failed sign-in on an account, kept 24 hours: the daily ceiling is counted over a
    sliding window, so failures on both sides of a fixed window's end cannot add up."""

    # "u<user id>" for an account, "n:<hash>" for an identifier that does not exist (counted
    # alike, so that the answers never tell the two apart).
    subject = models.CharField(max_length=80)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["subject", "at"], name="signin_failure_subject_at")]

    def __str__(self) -> str:
        return f"{self.subject} {self.at:%Y-%m-%d %H:%M}"
