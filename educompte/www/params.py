"""Posted ids, read so that anything malformed matches nothing instead of failing."""

from __future__ import annotations

from django.http import HttpRequest


def posted_id(value: str | None) -> int:
    """A posted id; anything else matches nothing (404), never a server error."""
    return int(value) if value and value.isdigit() else 0


def selected_ids(request: HttpRequest, limit: int) -> list[int]:
    """The accounts ticked in a console's table (``comptes``), or the whole page's
    (``page_ids``) when "Sélectionner toute la page" is ticked; at most ``limit``."""
    key = "page_ids" if request.POST.get("page_entiere") else "comptes"
    return [int(v) for v in request.POST.getlist(key) if v.isdigit()][:limit]
