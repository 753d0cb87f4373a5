"""The RSA keys that sign ID tokens (RS256).

The current key comes from ``EDUCOMPTE_OIDC_PRIVATE_KEY`` (PEM) or, when that is not set,
from ``VAR_DIR/oidc_private_key.pem``, generated at first start (mode 0600) and kept.

``educompte rotate-oidc-key`` retires the current key into ``VAR_DIR/oidc_retired_keys/``
(file name: the retirement time, in Unix seconds) and generates a new one. A retired key
stays published in the JWKS (DOT's ``OIDC_RSA_PRIVATE_KEYS_INACTIVE``) for ``retention``
seconds — longer than an ID token lives — so that tokens signed before the rotation still
verify; after that it is no longer loaded, and the next rotation deletes it.

This module is imported by ``settings.py``: it must not import Django models.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

ENV_KEY = "EDUCOMPTE_OIDC_PRIVATE_KEY"
ENV_INACTIVE = "EDUCOMPTE_OIDC_PRIVATE_KEYS_INACTIVE"
CURRENT_FILE = "oidc_private_key.pem"
RETIRED_DIR = "oidc_retired_keys"
KEY_SIZE = 2048
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.S)


class KeysFromEnvironment(Exception):
    """Rotation is refused when the keys come from the environment: the operator rotates."""


@dataclasses.dataclass(frozen=True)
class SigningKeys:
    current: str
    inactive: list[str]
    from_environment: bool


@dataclasses.dataclass(frozen=True)
class Rotation:
    new_kid: str
    retired_kid: str
    deleted: int  # retired keys past their retention, removed from disk


def generate_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def kid(pem: str) -> str:
    """The key id DOT publishes and puts in the ID token header (RFC 7638 thumbprint)."""
    return jwk.JWK.from_pem(pem.encode()).thumbprint()


def _write_new(path: Path, content: str) -> bool:
    """Create ``path`` (mode 0600) atomically; False if it already exists. Another process
    starting at the same moment either wins or reads the complete file of the winner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def _retired(var_dir: Path) -> list[tuple[int, Path]]:
    folder = var_dir / RETIRED_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.pem"):
        stamp = path.name.split("-", 1)[0]
        if stamp.isdigit():
            found.append((int(stamp), path))
    return sorted(found, reverse=True)


def load(var_dir: Path, retention: int, now: float | None = None) -> SigningKeys:
    """The current key and the retired keys still within their retention."""
    env_key = os.environ.get(ENV_KEY, "").strip()
    if env_key:
        inactive = _PEM_BLOCK.findall(os.environ.get(ENV_INACTIVE, ""))
        return SigningKeys(current=env_key + "\n", inactive=inactive, from_environment=True)
    now = time.time() if now is None else now
    path = var_dir / CURRENT_FILE
    if not path.exists():
        _write_new(path, generate_pem())
    inactive = [
        retired.read_text() for stamp, retired in _retired(var_dir) if stamp + retention > now
    ]
    return SigningKeys(current=path.read_text(), inactive=inactive, from_environment=False)


def rotate(var_dir: Path, retention: int, now: float | None = None) -> Rotation:
    """Retire the current key, make a new one, delete retired keys past their retention."""
    if os.environ.get(ENV_KEY, "").strip():
        raise KeysFromEnvironment
    now = time.time() if now is None else now
    current_path = var_dir / CURRENT_FILE
    old = load(var_dir, retention, now).current
    retired_path = var_dir / RETIRED_DIR / f"{int(now)}-{kid(old)[:16]}.pem"
    if not _write_new(retired_path, old):
        raise FileExistsError(retired_path)
    new = generate_pem()
    fd, tmp = tempfile.mkstemp(dir=var_dir, prefix=".tmp-", suffix=".pem")
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new)
    os.replace(tmp, current_path)
    deleted = 0
    for stamp, path in _retired(var_dir):
        if stamp + retention <= now:
            path.unlink()
            deleted += 1
    return Rotation(new_kid=kid(new), retired_kid=kid(old), deleted=deleted)
