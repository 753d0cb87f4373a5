"""educompte.demo.client: the demo service's pages."""

from __future__ import annotations

import pytest

from tests.helpers import new_client

pytestmark = pytest.mark.django_db


def test_the_demo_service_explains_an_unregistered_origin():
    from educompte.demo.services import ensure_demo_service

    client = new_client()
    assert "educompte demo" in client.get("/demo-service/").content.decode()
    ensure_demo_service()
    body = client.get("/demo-service/").content.decode()
    assert "--service-origin http://testserver" in body
    local = new_client(HTTP_HOST="127.0.0.1:8000")
    assert "Se connecter avec Educompte" in local.get("/demo-service/").content.decode()
    assert local.get("/demo-service/callback/?code=x&state=y").status_code == 400
