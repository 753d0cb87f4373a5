from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """An import started from Administration des comptes: preview, then apply with progress.

    The uploaded files stay under ``var/imports/`` only until the import ends (they hold
    personal data)."""

    class Status(models.TextChoices):
        REFUSED = "refused", _("Refusé")
        PREVIEWED = "previewed", _("Aperçu prêt")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminé")
        FAILED = "failed", _("Échec")
        CANCELLED = "cancelled", _("Annulé")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="import_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    filename = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, blank=True)
    nomenclature_path = models.CharField(max_length=500, blank=True)
    complete = models.BooleanField(default=True)
    # The number of deactivations the person typed to confirm a mass deactivation.
    allowed_deactivations = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 0


class TransferRequest(models.Model):
    """An establishment's import listed a pupil who is still current in another
    establishment: the pupil moves only if that establishment (or the academy) accepts.

    ``registry_id``, ``division_code`` and ``label`` are what the requesting establishment's
    own file said; they are all it is ever shown of the request (never the other
    establishment's data)."""

    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        ACCEPTED = "accepted", _("Acceptée")
        REFUSED = "refused", _("Refusée")
        CANCELLED = "cancelled", _("Sans objet")

    student = models.ForeignKey(
        "pupils.Student", on_delete=models.CASCADE, related_name="transfer_requests"
    )
    from_establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="transfers_out"
    )
    to_establishment = models.ForeignKey(
        "schools.Establishment", on_delete=models.CASCADE, related_name="transfers_in"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    registry_id = models.CharField(max_length=32, blank=True)
    division_code = models.CharField(max_length=30, blank=True)
    label = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["from_establishment", "state"], name="transfer_from_state"),
            models.Index(fields=["to_establishment", "state"], name="transfer_to_state"),
        ]
        constraints = [
            # Re-importing the same file never sends the same request twice.
            models.UniqueConstraint(
                fields=["student", "to_establishment"],
                condition=models.Q(state="pending"),
                name="transfer_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.from_establishment_id}->{self.to_establishment_id}"

    def decide(self, state: str, by: object, at: datetime.datetime) -> None:
        """Close the request in ``state`` (saved): who decided (a login, or nobody for the
        operator) and when."""
        decision = {
            "state": state,
            "decided_by": by if getattr(by, "pk", None) else None,
            "decided_at": at,
        }
        for name, value in decision.items():
            setattr(self, name, value)
        self.save(update_fields=list(decision))
