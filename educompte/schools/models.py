from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from educompte.schools.uai import validate_uai


def school_year_of(day: datetime.date) -> int:
    """School years start on 1 September: 2026-11-28 belongs to 2026 (2026-2027)."""
    return day.year if day.month >= 9 else day.year - 1


class Establishment(models.Model):
    uai = models.CharField(_("UAI"), max_length=8, unique=True, validators=[validate_uai])
    name = models.CharField(_("nom"), max_length=200)
    closed_at = models.DateTimeField(_("fermé le"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("établissement")

    def __str__(self) -> str:
        return f"{self.name} ({self.uai})"


class Mef(models.Model):
    """Module élémentaire de formation, e.g. 10310019110 / 3EME (national nomenclature)."""

    code = models.CharField(_("code MEF"), max_length=11, unique=True)
    label = models.CharField(_("libellé"), max_length=100)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Division(models.Model):
    """A class (division) of an establishment for one school year, e.g. 3A."""

    establishment = models.ForeignKey(
        Establishment, on_delete=models.CASCADE, related_name="divisions"
    )
    code = models.CharField(_("classe"), max_length=30)
    school_year = models.PositiveSmallIntegerField(_("année scolaire"))

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["establishment", "school_year", "code"], name="division_unique_per_year"
            )
        ]

    def __str__(self) -> str:
        return self.code
