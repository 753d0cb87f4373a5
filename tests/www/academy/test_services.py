"""Administration académique, services: registration, edits, secret renewal, revocation."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from oauth2_provider.models import AccessToken

from educompte.pupils.models import AccountState, StudentAccount
from educompte.sso.models import Service
from tests.factories import DivisionFactory, MefFactory, make_pupil
from tests.helpers import new_client, signed_in
from tests.oidc_helpers import (
    CALLBACK,
    LOGOUT_RETURN,
    RelyingParty,
    authorize,
    callback_url,
    sign_in_flow,
)

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def rp(registered) -> RelyingParty:
    return RelyingParty(registered.service.application.client_id, registered.client_secret)


@pytest.fixture
def pupil(college) -> StudentAccount:
    division = DivisionFactory(establishment=college, code="3A")
    mef = MefFactory(code="10310019110", label="3EME")
    account, _password = make_pupil(college, division=division, mef=mef, state=AccountState.ACTIVE)
    return account


@pytest.fixture
def browser(pupil):
    """The pupil's browser, signed in to Educompte."""
    return signed_in(pupil.user)


# --- Registering services: Administration académique --------------------------------------


@pytest.fixture
def academy(verified_client_for, academy_admin):
    return verified_client_for(academy_admin)


def test_academy_registers_a_service_and_sees_its_secret_once(academy, academy_admin):
    response = academy.post(
        reverse("academy:services"),
        {
            "name": "ENT Lycée",
            "redirect_uris": "https://ent-lycee.example/cb\r\nhttps://ent-lycee.example/cb2",
            "scopes": ["profile", "educompte"],
            "home_url": "https://ent-lycee.example/",
            "post_logout_redirect_uris": "",
        },
    )
    assert response.status_code == 200
    service = Service.objects.get()
    secret = response.context["secret"]
    body = response.content.decode()
    assert secret in body and service.application.client_id in body
    assert check_password(secret, service.application.client_secret)
    assert service.registered_by == academy_admin
    assert service.scopes == ["openid", "profile", "educompte"]
    assert service.redirect_uris == [
        "https://ent-lycee.example/cb",
        "https://ent-lycee.example/cb2",
    ]
    page = academy.get(reverse("academy:service", args=[service.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()
    listing = academy.get(reverse("academy:services")).content.decode()
    assert "ENT Lycée" in listing and secret not in listing


def test_academy_form_errors_are_explained(academy):
    response = academy.post(
        reverse("academy:services"),
        {"name": "ENT", "redirect_uris": "http://ent.example/cb", "scopes": ["openid"]},
    )
    assert response.status_code == 400
    assert "https://" in response.content.decode()
    assert not Service.objects.exists()


def test_academy_edits_renews_the_secret_and_revokes(academy, rp, registered, browser):
    service = registered.service
    url = reverse("academy:service", args=[service.pk])
    token, _claims = sign_in_flow(browser, rp)
    response = academy.post(
        url,
        {
            "what": "update",
            "name": "ENT Collège Jean Moulin",
            "redirect_uris": CALLBACK + "\nhttps://ent.example/v2/cb",
            "scopes": ["profile", "educompte", "email"],
            "home_url": "https://ent.example/",
            "post_logout_redirect_uris": LOGOUT_RETURN,
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    service.application.refresh_from_db()
    assert service.name == "ENT Collège Jean Moulin"
    assert service.redirect_uris == [CALLBACK, "https://ent.example/v2/cb"]
    assert rp.userinfo(token["access_token"]).status_code == 200  # nothing narrowed

    response = academy.post(url, {"what": "new_secret"})
    assert response.status_code == 200
    new_secret = response.context["secret"]
    assert new_secret != registered.client_secret
    location = callback_url(authorize(browser, rp))
    with pytest.raises(Exception, match="invalid_client"):
        rp.fetch_token(location)  # the old secret no longer works

    assert academy.post(url, {"what": "revoke"}).status_code == 302  # not confirmed
    assert Service.objects.filter(pk=service.pk).exists()
    response = academy.post(url, {"what": "revoke", "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("academy:services")
    assert not Service.objects.exists() and not AccessToken.objects.exists()
    assert authorize(browser, rp).status_code == 400


def test_academy_service_pages_are_for_verified_academy_admins_only(
    registered, quick_head, client_for, academy_admin
):
    url = reverse("academy:service", args=[registered.service.pk])
    assert client_for(quick_head).get(url).status_code == 403
    assert client_for(academy_admin).get(url).status_code == 302  # second factor first
    assert new_client().get(url).status_code == 302
