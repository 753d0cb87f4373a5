"""Messages the pupil's pages share."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from educompte.core.dates import moment


def locked_message(retry_at: datetime.datetime) -> str:
    """Too many failed attempts on the account: until when it must wait."""
    when = moment(retry_at)
    return _(
        "Trop d'essais infructueux. Pour protéger ce compte, réessayez à partir du %(when)s."
    ) % {"when": when}
