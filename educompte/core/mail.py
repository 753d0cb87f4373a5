"""Mail to people (recovery links, invitations, notices): never shown to fail, and sent
after the response when the page passes a ``defer``."""

from __future__ import annotations

import functools
import logging
import smtplib

from django.core.mail import send_mail

from educompte.core.after_response import Defer

log = logging.getLogger("educompte.mail")


def deliver(subject: str, body: str, recipients: list[str]) -> bool:
    """Send one mail; a mail server that is down is logged, never shown (the page must answer
    the same whether or not a mail went out)."""
    try:
        send_mail(subject, body, None, recipients)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send a mail (%s)", subject)
        return False
    return True


def send_later(subject: str, body: str, recipients: list[str], defer: Defer | None) -> None:
    """Mail now, or through ``defer`` (the pages pass ``after_response.deferrer(request)``,
    so that the answer does not wait for the mail server). The text is written now, in the
    request's language; only the sending waits."""
    work = functools.partial(deliver, subject, body, recipients)
    if defer is None:
        work()
    else:
        defer(work)
