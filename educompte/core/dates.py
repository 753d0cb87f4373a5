"""Moments as a French reader expects them: « 1er décembre 2026 à 09:25 » (and, in English,
"1 December 2026 at 09:25"), in the local time zone."""

from __future__ import annotations

import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _


def moment(value: datetime.datetime) -> str:
    local = timezone.localtime(value)
    return _("%(day)s %(month)s %(year)s à %(time)s") % {
        # The first of the month is « 1er » in French ("1" in English).
        "day": _("1er") if local.day == 1 else str(local.day),
        "month": formats.date_format(local, "F"),
        "year": local.year,
        "time": f"{local:%H:%M}",
    }
