"""The operator commands of single sign-on: ``add_service`` and ``rotate_oidc_key``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from educompte.sso import keys
from educompte.sso.models import Service
from tests.oidc_helpers import CALLBACK

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


def test_the_rotate_command_refuses_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv(keys.ENV_KEY, keys.generate_pem())
    with pytest.raises(CommandError, match=keys.ENV_INACTIVE):
        call_command("rotate_oidc_key")


def test_the_rotate_command(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    keys.load(tmp_path, 60)
    out = StringIO()
    with override_settings(VAR_DIR=tmp_path):
        call_command("rotate_oidc_key", stdout=out)
    assert "new signing key" in out.getvalue() and "Restart" in out.getvalue()
    assert len(list((tmp_path / keys.RETIRED_DIR).glob("*.pem"))) == 1


# --- Registering services: command line ---------------------------------------------------


def test_add_service_prints_the_client_id_and_the_secret_once():
    out = StringIO()
    call_command(
        "add_service",
        "Pronote démo",
        "--redirect-uri",
        "https://pronote.example/oidc/cb",
        "--scope",
        "profile",
        "--scope",
        "educompte",
        stdout=out,
    )
    service = Service.objects.get()
    text = out.getvalue()
    client_id = service.application.client_id
    secret = text.split("client secret:")[1].split()[0]
    assert f"client id:     {client_id}" in text
    assert len(secret) >= 40
    assert service.application.client_secret != secret  # only a hash is kept
    assert check_password(secret, service.application.client_secret)
    assert service.scopes == ["openid", "profile", "educompte"]
    assert service.redirect_uris == ["https://pronote.example/oidc/cb"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("pronote.example/cb", "adresse web complète"),
        ("http://pronote.example/cb", "https://"),
        ("https://pronote.example/cb#frag", "fragment"),
        ("https://user@pronote.example/cb", "identifiants"),
        ("https://*.example/cb", "jokers"),
    ],
)
def test_add_service_explains_a_bad_redirect_uri(uri, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("add_service", "Pronote", "--redirect-uri", uri, stdout=StringIO())
    assert "redirect uris" in str(error.value)
    assert not Service.objects.exists()


def test_add_service_refuses_an_unknown_scope_and_a_duplicate_name(registered):
    with pytest.raises(CommandError):
        call_command("add_service", "X", "--redirect-uri", CALLBACK, "--scope", "phone")
    with pytest.raises(CommandError, match="déjà ce nom"):
        call_command("add_service", "ent collège", "--redirect-uri", CALLBACK, stdout=StringIO())
