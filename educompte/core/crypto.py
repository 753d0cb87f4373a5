"""AES-256-GCM encryption of provisional passwords.

Staff must be able to read a provisional password until the pupil activates the account,
so it cannot be hashed. It is encrypted with a key from configuration; the account's
primary key is bound as associated data so a ciphertext copied onto another row fails.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = b"\x01"
_NONCE_BYTES = 12


@functools.lru_cache(maxsize=4)
def _cipher(key_b64: str) -> AESGCM:
    key = base64.urlsafe_b64decode(key_b64.encode() + b"=" * (-len(key_b64) % 4))
    if len(key) != 32:
        raise ValueError("EDUCOMPTE_PROVISIONAL_PASSWORD_KEY must decode to 32 bytes")
    return AESGCM(key)


def encrypt(plaintext: str, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings.EDUCOMPTE_PROVISIONAL_PASSWORD_KEY).encrypt(
        nonce, plaintext.encode(), context.encode()
    )
    return _VERSION + nonce + sealed


def decrypt(token: bytes, context: str) -> str:
    token = bytes(token)
    if token[:1] != _VERSION:
        raise ValueError("unknown ciphertext version")
    nonce, sealed = token[1 : 1 + _NONCE_BYTES], token[1 + _NONCE_BYTES :]
    return (
        _cipher(settings.EDUCOMPTE_PROVISIONAL_PASSWORD_KEY)
        .decrypt(nonce, sealed, context.encode())
        .decode()
    )
