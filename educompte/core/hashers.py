"""Argon2id with the OWASP parameters the design asks for (t=2, m=19 MiB, p=1)."""

from django.contrib.auth.hashers import Argon2PasswordHasher, make_password


class Argon2idHasher(Argon2PasswordHasher):
    # Django's hasher already uses argon2-cffi's Argon2id variant; only the costs differ.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1


def dummy_verify(password: str) -> None:
    """Spend one Argon2id computation, with the configured costs, where no stored hash is
    verified (an unknown identifier, a provisional password checked by AES-GCM): a sign-in
    then takes the same time whatever the account's state and whether it exists.

    Hashing costs what verifying costs (the same Argon2id run); this is what Django's
    ModelBackend does for an unknown user (``UserModel().set_password(password)``)."""
    make_password(password or "")
