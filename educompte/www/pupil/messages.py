"""Messages the pupil's pages share."""

from __future__ import annotations

import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _


def locked_message(retry_at: datetime.datetime) -> str:
    """Too many failed attempts on the account: until when it must wait."""
    when = formats.date_format(timezone.localtime(retry_at), "DATETIME_FORMAT")
    return _(
        "Trop d'essais infructueux. Pour protéger ce compte, réessayez à partir du %(when)s."
    ) % {"when": when}
