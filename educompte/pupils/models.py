from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from educompte.core.text import normalize


class Student(models.Model):
    """A pupil as the registry knows them. One row per pupil (INE), following them when they
    change establishment inside the installation."""

    # No index of its own: the composite indexes below all start with the establishment.
    establishment = models.ForeignKey(
        "schools.Establishment",
        on_delete=models.PROTECT,
        related_name="students",
        db_index=False,
    )
    registry_id = models.CharField(_("identifiant base élèves"), max_length=32, blank=True)
    ine = models.CharField(_("INE"), max_length=11, null=True, blank=True, unique=True)
    last_name = models.CharField(_("nom"), max_length=100)
    first_name = models.CharField(_("prénom"), max_length=100)
    birth_date = models.DateField(_("date de naissance"))
    division = models.ForeignKey(
        "schools.Division",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="students",
    )
    mef = models.ForeignKey(
        "schools.Mef", null=True, blank=True, on_delete=models.SET_NULL, related_name="students"
    )
    left_on = models.DateField(_("date de sortie"), null=True, blank=True)
    # Lower-case ASCII "last first" kept in step with the names: the console searches it.
    search_name = models.CharField(max_length=210, editable=False, db_index=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["establishment", "last_name", "first_name"], name="student_est_name"
            ),
            models.Index(fields=["establishment", "division"], name="student_est_division"),
            models.Index(fields=["establishment", "search_name"], name="student_est_search"),
            # The console's MEF filter list reads the MEFs of one establishment from here, and
            # its counts join the accounts from here without reading the table (PostgreSQL).
            models.Index(fields=["establishment", "mef"], include=["id"], name="student_est_mef"),
            # « Demander à mon établissement » without the identifier finds the pupil by
            # date of birth and name across the installation (an anonymous page).
            models.Index(fields=["birth_date", "search_name"], name="student_birth_name"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        self.search_name = normalize(f"{self.last_name} {self.first_name}")
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class AccountState(models.TextChoices):
    NOT_INFORMED = "not_informed", _("Non activé - non informé")
    INFORMED = "informed", _("Non activé - informé")
    ACTIVE = "active", _("Activé")
    DEACTIVATED = "deactivated", _("Désactivé")


class StudentAccount(models.Model):
    """The pupil's account. The identifier and the chosen password hash live on the
    linked login (``user``); the provisional password is kept here, encrypted."""

    student = models.OneToOneField(Student, on_delete=models.CASCADE, related_name="account")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="student_account"
    )
    state = models.CharField(
        _("état du compte"),
        max_length=16,
        choices=AccountState.choices,
        default=AccountState.NOT_INFORMED,
    )
    provisional_password_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    provisional_issued_at = models.DateTimeField(null=True, blank=True)
    provisional_expires_at = models.DateTimeField(null=True, blank=True)
    # The recovery address: reset links go there, services get it as ``email_verified``.
    # Only ever set by following a confirmation link (``email_confirmed`` then True).
    email = models.EmailField(_("adresse électronique"), blank=True)
    email_confirmed = models.BooleanField(default=False)
    # An address given but not confirmed yet: it replaces ``email`` only when the link mailed
    # to it is followed, so a stolen session cannot divert the reset links at once.
    pending_email = models.EmailField(_("adresse électronique à confirmer"), blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Deactivated by staff (with a reason), not by the registry: a later import listing the
    # pupil again does not bring the account back; only a reactivation does.
    deactivated_by_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["state"], name="account_state"),
            # The console's state filter counts an establishment's accounts in one state by
            # probing this index once per pupil, without reading the table (PostgreSQL).
            models.Index(fields=["student"], include=["state"], name="account_student_state"),
        ]

    def __str__(self) -> str:
        return self.identifier

    @property
    def identifier(self) -> str:
        return self.user.username

    @property
    def is_activated(self) -> bool:
        return self.state == AccountState.ACTIVE


class SupportRequest(models.Model):
    """ "Demander à mon établissement": a pupil without a confirmed e-mail asks the school
    for a new password; staff handle it in Dépannage (tab "Demandes")."""

    class Status(models.TextChoices):
        OPEN = "open", _("En attente")
        HANDLED = "handled", _("Traitée")
        DISMISSED = "dismissed", _("Close sans suite")

    account = models.ForeignKey(StudentAccount, on_delete=models.CASCADE, related_name="requests")
    establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="support_requests"
    )
    class_given = models.CharField(_("classe indiquée"), max_length=30, blank=True)
    message = models.TextField(_("message"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["establishment", "status"], name="request_est_status")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.status}"
