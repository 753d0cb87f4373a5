"""The second factor (TOTP and recovery codes) in front of Administration des comptes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.urls.converters import IntConverter, UUIDConverter
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts.models import Delegation, Right
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState
from educompte.www.urls import administration_patterns
from tests.factories import make_delegate

pytestmark = pytest.mark.django_db
ENROL = "/portail/second-facteur/enrolement/"
VERIFY = "/portail/second-facteur/"
UAI = "0380001V"


# Every route of Administration des comptes, read from the URLconf: a new route is covered
# without touching this file.
ADMIN_ROUTES = {
    p.name: dict(p.pattern.converters)
    for p in administration_patterns[0]
    if isinstance(p, URLPattern)
}


_NOTHING = {IntConverter: 999999, UUIDConverter: "00000000-0000-0000-0000-000000000000"}


def admin_url(name: str, delegation_id: int) -> str:
    # ``uai`` belongs to the include (administration/<uai>/), the rest to each route; a
    # parameter this file does not know gets a value that designates nothing.
    kwargs = {"uai": UAI}
    for param, converter in ADMIN_ROUTES[name].items():
        if param == "delegation_id":
            kwargs[param] = delegation_id
        else:
            kwargs[param] = _NOTHING.get(type(converter), "x")
    return reverse(f"administration:{name}", kwargs=kwargs)


def request_route(client: Client, url: str):
    """GET, or POST (no CSRF check) on the POST-only routes."""
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def split_redirect(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, f"expected a redirect, got {response.status_code}"
    location = urlsplit(response["Location"])
    assert not location.netloc
    return location.path, parse_qs(location.query)


def test_admin_routes_are_read_from_the_urlconf():
    assert {"pupils", "account_action", "delegations", "journal_csv"} <= ADMIN_ROUTES.keys()


# --- Every administration route leads to the second factor, never to a refusal ----------


@pytest.fixture
def delegation(college, quick_delegate):
    return Delegation.objects.get(agent=quick_delegate, establishment=college)


def _outcome(client: Client, url: str) -> tuple[str, str, dict]:
    """(requested url, status or redirect path, query) — a plain redirect to another page of
    the application (the app's home) is followed once."""
    response = request_route(client, url)
    if response.status_code == 302:
        path, query = split_redirect(response)
        if path.startswith(f"/administration/{UAI}/"):
            url, response = path, client.get(path)
    if response.status_code != 302:
        return url, str(response.status_code), {}
    path, query = split_redirect(response)
    return url, path, query


@pytest.mark.parametrize("has_device", [False, True], ids=["no_device", "confirmed_device"])
def test_head_without_second_factor_is_led_to_it_from_every_route(
    client_for, quick_head, delegation, zoe, has_device
):
    if has_device:
        TOTPDevice.objects.create(user=quick_head, name="tel", confirmed=True)
    target = VERIFY if has_device else ENROL
    account, _pw = zoe
    client = client_for(quick_head)
    wrong = []
    for name in sorted(ADMIN_ROUTES):
        url, where, query = _outcome(client, admin_url(name, delegation.pk))
        if where != target or query.get("next") != [url]:
            wrong.append(f"{name}: {where} {query}")
    assert not wrong, f"not led to {target}: {wrong}"
    # Nothing happened on the way.
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert not AuditEvent.objects.exists()
    assert TOTPDevice.objects.filter(user=quick_head, confirmed=True).count() == int(has_device)


def test_unverified_head_cannot_act_with_a_complete_form(client_for, quick_head, college, zoe):
    account, _pw = zoe
    client = client_for(quick_head)
    url = admin_url("account_action", 0)
    data = {"action": "deactivate", "comptes": [account.pk], "confirm": "1", "reason": "x"}
    path, _query = split_redirect(client.post(url, data))
    assert path == ENROL
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
    path, _query = split_redirect(
        client.post(admin_url("forced_change", 0), {"scope": "establishment", "confirm": "1"})
    )
    assert path == ENROL
    assert not AuditEvent.objects.exists()


def test_delegated_administration_also_asks_for_the_second_factor(college, client_for):
    agent = make_delegate(college, Right.ADMINISTRATION, username="cpe", quick=True)
    path, query = split_redirect(client_for(agent).get(admin_url("pupils", 0)))
    assert path == ENROL
    assert query["next"] == [admin_url("pupils", 0)]


def test_agent_without_the_administration_right_is_refused_everywhere(
    verified_client_for, quick_delegate, quick_agent, delegation
):
    # Dépannage only (or no right at all), even in a verified session: refused, not led to a
    # code page.
    for agent in (quick_delegate, quick_agent):
        client = verified_client_for(agent)
        wrong = []
        for name in sorted(ADMIN_ROUTES):
            _url, where, _query = _outcome(client, admin_url(name, delegation.pk))
            if where != "403":
                wrong.append(f"{name}: {where}")
        assert not wrong, f"{agent}: not refused on {wrong}"
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
