"""The pages every page's footer links to: accessibility statement, legal notice and
personal data. Their facts (publisher, host, contact, retention) come from settings."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _legal() -> dict[str, object]:
    return {
        "publisher": settings.EDUCOMPTE_LEGAL_PUBLISHER,
        "director": settings.EDUCOMPTE_LEGAL_DIRECTOR,
        "host": settings.EDUCOMPTE_LEGAL_HOST,
        "contact": settings.EDUCOMPTE_LEGAL_CONTACT,
        "retention_days": settings.EDUCOMPTE_RETENTION_DAYS,
    }


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/accessibility.html", {"legal": _legal()})


def legal_notice(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/legal_notice.html", {"legal": _legal()})


def personal_data(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/personal_data.html", {"legal": _legal()})
