"""educompte.core.net: the client address, behind the proxy too, as the throttling counts it."""

from __future__ import annotations

import datetime

import pytest
from django.test import RequestFactory
from django.urls import reverse

from educompte.core.net import client_ip
from educompte.pupils.models import StudentAccount
from tests.helpers import new_client

UTC = datetime.UTC


# 09:00 UTC is 10:00 in Paris (winter time): the pages show local time.
T0 = datetime.datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
WRONG = "AAAAAAAAAA"
FLOODER, ELSEWHERE = "203.0.113.9", "198.51.100.7"


def _far_expiry(account: StudentAccount) -> StudentAccount:
    """The tests' clock (2030) is far ahead: keep the provisional password valid until then."""
    StudentAccount.objects.filter(pk=account.pk).update(
        provisional_expires_at=T0 + datetime.timedelta(days=365)
    )
    account.refresh_from_db()
    return account


@pytest.fixture
def zoe(zoe):
    account, password = zoe
    return _far_expiry(account), password


# --- The client address behind a reverse proxy ---------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No trusted proxy configured: the header is anyone's to forge.
        ([], "198.51.100.7", "1.2.3.4", "198.51.100.7"),
        ([], "10.0.0.2", "1.2.3.4, 5.6.7.8", "10.0.0.2"),
        # The peer is not the trusted proxy: header ignored.
        (["10.0.0.0/8"], "198.51.100.7", "1.2.3.4", "198.51.100.7"),
        # Behind the proxy: the right-most entry the proxy itself appended.
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 5.6.7.8", "5.6.7.8"),
        # A spoofed left-most entry changes nothing.
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.66, 5.6.7.8", "5.6.7.8"),
        # A chain of trusted proxies is skipped.
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 5.6.7.8, 10.0.0.3", "5.6.7.8"),
        (["10.0.0.2", "10.0.0.3"], "10.0.0.2", "5.6.7.8,10.0.0.3", "5.6.7.8"),
        # Nothing usable: the proxy's own address.
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "not-an-address", "10.0.0.2"),
        (["::1"], "::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.EDUCOMPTE_TRUSTED_PROXIES = proxies
    assert client_ip(_request(remote, forwarded)) == expected


def test_throttling_behind_the_proxy_counts_the_real_client(zoe, settings):
    """A client rotating forged left-most entries is still counted on its real address."""
    settings.EDUCOMPTE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = 5
    account, provisional = zoe
    url = reverse("pupil:login")
    # Zoé mistypes once through the proxy, then unknown identifiers flood the address.
    names = [account.identifier] + [f"inconnu{n}" for n in range(5)]
    for i, name in enumerate(names):
        new_client().post(
            url,
            {"username": name, "password": WRONG},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.18.0.{i}, {FLOODER}",
        )
    data = {"username": account.identifier, "password": provisional}
    refused = new_client().post(
        url, data, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"198.18.0.99, {FLOODER}"
    )
    assert refused.status_code == 400
    assert "réessayez à partir du" in refused.text.lower()
    # Another client behind the same proxy is not concerned.
    ok = new_client().post(url, data, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert ok.status_code == 302
