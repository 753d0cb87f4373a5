from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The peer address. Proxy headers are not trusted here (see the sign-in issue)."""
    return request.META.get("REMOTE_ADDR", "") or ""
