"""educompte.demo.services: the demo OpenID Connect service."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password

from educompte.sso.models import Service

pytestmark = pytest.mark.django_db


def test_ensure_demo_service_is_idempotent():
    from educompte.demo import client as demo_client
    from educompte.demo.services import ensure_demo_service

    first = ensure_demo_service()
    again = ensure_demo_service(["http://127.0.0.1:8010"])
    assert first.pk == again.pk and Service.objects.count() == 1
    again.refresh_from_db()
    again.application.refresh_from_db()
    assert again.application.client_id == "ent-demo"
    assert again.redirect_uris == [
        "http://127.0.0.1:8000/demo-service/callback/",
        "http://localhost:8000/demo-service/callback/",
        "http://127.0.0.1:8010/demo-service/callback/",
    ]
    assert "http://127.0.0.1:8010/demo-service/" in again.post_logout_redirect_uris
    assert check_password(demo_client.client_secret(), again.application.client_secret)
    assert ensure_demo_service().redirect_uris == again.redirect_uris
