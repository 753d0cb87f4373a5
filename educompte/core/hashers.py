"""Argon2id with the OWASP parameters the design asks for (t=2, m=19 MiB, p=1)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    # Django's hasher already uses argon2-cffi's Argon2id variant; only the costs differ.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
