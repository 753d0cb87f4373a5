"""educompte.sso.keys: the signing key, generated once, and its rotation."""

from __future__ import annotations

import os
import stat
import time
from urllib.parse import urlencode

import pytest
from authlib.common.security import generate_token
from django.conf import settings
from django.test import override_settings
from joserfc import jwt
from joserfc.jwk import KeySet

from educompte.sso import keys
from tests.oidc_helpers import sign_in_flow

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


def test_the_signing_key_is_generated_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    first = keys.load(tmp_path, retention=60)
    assert "PRIVATE KEY" in first.current and not first.inactive
    assert stat.S_IMODE(os.stat(tmp_path / keys.CURRENT_FILE).st_mode) == 0o600
    assert keys.load(tmp_path, retention=60).current == first.current  # kept
    monkeypatch.setenv(keys.ENV_KEY, keys.generate_pem())
    from_env = keys.load(tmp_path, retention=60)
    assert from_env.from_environment and from_env.current != first.current
    with pytest.raises(keys.KeysFromEnvironment):
        keys.rotate(tmp_path, retention=60)


# --- Key rotation -----------------------------------------------------------------------


def test_rotation_keeps_the_old_public_key_until_its_tokens_expire(
    rp, registered, browser, tmp_path, monkeypatch
):
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    retention = settings.OIDC_RETIRED_KEY_SECONDS
    before = keys.load(tmp_path, retention)
    provider = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": before.current}
    with override_settings(OAUTH2_PROVIDER=provider):
        old_token, _claims = sign_in_flow(browser, rp)
    rotated_at = time.time()
    rotation = keys.rotate(tmp_path, retention, now=rotated_at)
    after = keys.load(tmp_path, retention, now=rotated_at + 60)
    assert rotation.retired_kid == keys.kid(before.current) and after.inactive == [before.current]
    assert stat.S_IMODE(os.stat(tmp_path / keys.CURRENT_FILE).st_mode) == 0o600
    provider = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": after.current,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": after.inactive,
    }
    with override_settings(OAUTH2_PROVIDER=provider):
        kids = [k["kid"] for k in rp.jwks()["keys"]]
        assert kids == [rotation.new_kid, rotation.retired_kid]
        rp.verify_id_token(old_token)  # signed before the rotation, still verifies
        rp.nonce = generate_token(20)
        new_token, _claims = sign_in_flow(browser, rp)
        header = jwt.decode(new_token["id_token"], KeySet.import_key_set(rp.jwks())).header
        assert header["kid"] == rotation.new_kid
        # RP-initiated logout still recognises an ID token of the retired key.
        query = urlencode({"id_token_hint": old_token["id_token"], "client_id": rp.client_id})
        assert browser.get(f"/oidc/logout/?{query}").status_code == 200
    # Once the old tokens have expired, the retired key is no longer published, and the
    # next rotation deletes it.
    later = rotated_at + retention + 1
    assert keys.load(tmp_path, retention, now=later).inactive == []
    assert keys.rotate(tmp_path, retention, now=later).deleted == 1
