from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Append-only record of who did what to which account. Never holds a password."""

    class Action(models.TextChoices):
        PASSWORD_RESET = "password_reset", _("Réinitialisation du mot de passe")
        ACCOUNT_ACTIVATED = "account_activated", _("Activation du compte")
        STAFF_SIGN_IN = "staff_sign_in", _("Connexion d'un agent")
        DELEGATION_GRANTED = "delegation_granted", _("Délégation accordée")
        DELEGATION_REVOKED = "delegation_revoked", _("Délégation révoquée")
        ESTABLISHMENT_CREATED = "establishment_created", _("Établissement créé")
        AGENT_CREATED = "agent_created", _("Agent créé")
        ACCOUNT_DEACTIVATED = "account_deactivated", _("Désactivation du compte")
        ACCOUNT_REACTIVATED = "account_reactivated", _("Réactivation du compte")
        ACCOUNT_UNLOCKED = "account_unlocked", _("Déblocage du compte")
        FORCED_CHANGE = "forced_change", _("Changement de mot de passe imposé")
        AUDIT_EXPORTED = "audit_exported", _("Export du journal")
        OTP_ENROLLED = "otp_enrolled", _("Second facteur enregistré")
        OTP_RESET = "otp_reset", _("Second facteur réinitialisé")
        ESTABLISHMENT_UPDATED = "establishment_updated", _("Établissement modifié")
        ESTABLISHMENT_CLOSED = "establishment_closed", _("Établissement fermé")
        HEAD_APPOINTED = "head_appointed", _("Chef d'établissement nommé")
        HEAD_REMOVED = "head_removed", _("Chef d'établissement retiré")
        RESET_ALERT = "reset_alert", _("Alerte : nombreuses réinitialisations")
        LETTER_ISSUED = "letter_issued", _("Courrier d'identifiants édité")
        CREDENTIALS_EXPORTED = "credentials_exported", _("Export des identifiants")
        REGISTRY_IMPORT = "registry_import", _("Import de la base élèves")
        REQUEST_CREATED = "request_created", _("Demande d'un élève à l'établissement")
        REQUEST_CLOSED = "request_closed", _("Demande d'un élève close")
        EMAIL_CONFIRMED = "email_confirmed", _("Adresse électronique confirmée")
        PASSWORD_CHANGED = "password_changed", _("Mot de passe changé par l'élève")
        PASSWORD_RECOVERED = "password_recovered", _("Mot de passe réinitialisé par lien")
        SESSIONS_ENDED = "sessions_ended", _("Autres sessions fermées")
        SERVICE_REGISTERED = "service_registered", _("Service enregistré")
        SERVICE_UPDATED = "service_updated", _("Service modifié")
        SERVICE_SECRET_REPLACED = "service_secret_replaced", _("Secret d'un service remplacé")
        SERVICE_REVOKED = "service_revoked", _("Service révoqué")
        TRANSFER_REQUESTED = "transfer_requested", _("Demande de transfert d'un élève")
        TRANSFER_ACCEPTED = "transfer_accepted", _("Transfert d'un élève accepté")
        TRANSFER_REFUSED = "transfer_refused", _("Transfert d'un élève refusé")
        LEAVER_ARRIVED = "leaver_arrived", _("Élève sorti inscrit dans un autre établissement")
        EMAIL_CHANGE_REQUESTED = (
            "email_change_requested",
            _("Nouvelle adresse électronique indiquée"),
        )
        EMAIL_REMOVED = "email_removed", _("Adresse électronique retirée")
        STAFF_PASSWORD_SET = "staff_password_set", _("Mot de passe choisi par un agent")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the trail must survive the deletion of the actor's login.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    establishment = models.ForeignKey(
        "schools.Establishment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(
        "pupils.StudentAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject_label = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["establishment", "created_at"], name="audit_est_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)
