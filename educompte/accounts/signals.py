"""Receivers of the accounts app (connected in ``AccountsConfig.ready``)."""

from __future__ import annotations

from django.utils import timezone


def record_last_login(sender: type, user, **kwargs) -> None:
    """``last_login`` is the person's last sign-in, shown to staff."""
    user.last_login = timezone.now()
    type(user)._default_manager.filter(pk=user.pk).update(last_login=user.last_login)
