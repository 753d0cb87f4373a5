"""Signal receivers: a pupil whose credentials are replaced or withdrawn loses every SSO
token at once (reset, forced change, reactivation, deactivation)."""

from __future__ import annotations

from django.dispatch import receiver

from educompte.pupils.signals import credentials_revoked
from educompte.sso import services


@receiver(credentials_revoked, dispatch_uid="educompte.sso.revoke_pupil_tokens")
def revoke_pupil_tokens(sender, user_ids, **kwargs) -> None:
    services.revoke_pupil_tokens(user_ids)
