"""educompte.sso.claims: what a service learns of a pupil, by scope and registration."""

from __future__ import annotations

import pytest

from educompte.accounts import authz
from educompte.sso import claims
from educompte.sso import services as sso_services
from tests.oidc_helpers import ALL_SCOPES, CALLBACK, RelyingParty, sign_in_flow

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


def test_pairwise_sub_is_stable_per_service_and_differs_between_services(browser, pupil):
    first = sso_services.register_service("ENT", [CALLBACK], ALL_SCOPES, by=authz.OPERATOR)
    second = sso_services.register_service("Vie scolaire", [CALLBACK], "openid", by=authz.OPERATOR)
    subs = []
    for reg, scope in ((first, ALL_SCOPES), (second, "openid"), (first, ALL_SCOPES)):
        rp = RelyingParty(reg.service.application.client_id, reg.client_secret, scope=scope)
        _token, id_claims = sign_in_flow(browser, rp)
        subs.append(id_claims["sub"])
    assert subs[0] == subs[2]
    assert subs[0] != subs[1]
    assert str(pupil.user_id) not in subs and pupil.identifier not in subs


# --- Claims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "given_name", "family_name"}),
        (
            "openid educompte",
            {"sub", "educompte_profile", "educompte_uai", "educompte_class", "educompte_mef"},
        ),
        ("openid email", {"sub"}),  # the address is not confirmed yet
    ],
)
def test_claims_follow_the_scopes(registered, browser, pupil, scope, expected):
    pupil.email = "zoe@example.org"
    pupil.save()
    rp = RelyingParty(
        registered.service.application.client_id, registered.client_secret, scope=scope
    )
    token, id_claims = sign_in_flow(browser, rp)
    info = rp.userinfo(token["access_token"]).json()
    assert set(info) == expected
    assert expected <= set(id_claims)
    assert not ({"email", "email_verified", "given_name", "educompte_uai"} - expected) & set(
        id_claims
    )
    if "educompte_uai" in expected:
        assert info["educompte_profile"] == "eleve2d"
        assert info["educompte_uai"] == "0380001V"
        assert info["educompte_class"] == "3A"
        assert info["educompte_mef"] == "3EME"
    if "given_name" in expected:
        assert (info["given_name"], info["family_name"]) == ("Zoé", "N'Guyen-Lefèvre")


def test_email_only_once_confirmed(rp, browser, pupil):
    pupil.email, pupil.email_confirmed = "zoe@example.org", True
    pupil.save()
    token, id_claims = sign_in_flow(browser, rp)
    assert id_claims["email"] == "zoe@example.org" and id_claims["email_verified"] is True
    assert rp.userinfo(token["access_token"]).json()["email"] == "zoe@example.org"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("3EME", "eleve2d"),
        ("2NDE GENERALE ET TECHNO", "eleve2d"),
        ("CM2", "eleve1d"),
        ("CP", "eleve1d"),
        ("ce1-a", "eleve1d"),
        ("", "eleve2d"),
        (None, "eleve2d"),
        ("CPGE", "eleve2d"),
    ],
)
def test_profile_type_rule(label, kind):
    assert claims.profile_type(label) == kind


def test_a_service_gets_no_more_than_its_registration_even_with_an_old_token(
    rp, registered, browser
):
    token, _claims = sign_in_flow(browser, rp)
    assert "given_name" in rp.userinfo(token["access_token"]).json()
    sso_services.update_service(registered.service, scopes="openid", by=authz.OPERATOR)
    # Narrowing the scopes ended the service's tokens.
    assert rp.userinfo(token["access_token"]).status_code == 401
    token, id_claims = sign_in_flow(
        browser,
        RelyingParty(rp.client_id, registered.client_secret, scope="openid"),
    )
    assert set(id_claims) & {"given_name", "educompte_uai"} == set()
