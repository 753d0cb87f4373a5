"""Absolute links for messages that leave the site (e-mails, letters, SMS).

They are built from ``EDUCOMPTE_PUBLIC_URL``, never from the request: the ``Host`` header
(and its port) is chosen by whoever sends the request, so a link built from it could point
a pupil's mailbox at another server."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def absolute_url(path: str) -> str:
    """``path`` (starting with ``/``) on the configured public origin."""
    return settings.EDUCOMPTE_PUBLIC_URL + path


def absolute_reverse(viewname: str, *args: object) -> str:
    return absolute_url(reverse(viewname, args=args or None))
