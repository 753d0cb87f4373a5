"""Moments as a French reader expects them (« 1er décembre 2026 à 09:25 »)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.utils import translation

from educompte.core.dates import moment

PARIS = ZoneInfo("Europe/Paris")


def test_the_first_of_the_month_and_the_time():
    with translation.override("fr"):
        assert moment(datetime.datetime(2026, 12, 1, 9, 25, tzinfo=PARIS)) == (
            "1er décembre 2026 à 09:25"
        )
        assert moment(datetime.datetime(2027, 3, 14, 18, 5, tzinfo=PARIS)) == (
            "14 mars 2027 à 18:05"
        )


def test_in_english():
    with translation.override("en"):
        assert moment(datetime.datetime(2026, 12, 1, 9, 25, tzinfo=PARIS)) == (
            "1 December 2026 at 09:25"
        )


def test_in_the_local_time_zone():
    utc = datetime.datetime(2026, 12, 1, 8, 25, tzinfo=datetime.UTC)
    with translation.override("fr"):
        assert moment(utc) == "1er décembre 2026 à 09:25"
