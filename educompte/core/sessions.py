"""Django's database sessions, without a needless write at sign-in.

``login()`` cycles the session key against fixation. For a visitor whose session was never
saved (the usual sign-in: the form page stores nothing), Django's ``cycle_key`` writes an
empty session row only to rewrite it when the response saves the session — two writes,
five statements, on every successful sign-in (bench/signin.py, docs/PERFORMANCE.md). A
session without a key has nothing an attacker could have fixed: it gets its key when
first saved. Sessions that have a key are cycled as before.

A new key is not looked up before it is used either: the row is inserted with
``must_create``, and ``create()`` already draws another key if the insert collides.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def cycle_key(self) -> None:
        if self.session_key is None:
            self._session  # noqa: B018 - load (empty) data so the save below keeps it
            self.modified = True
            return
        super().cycle_key()

    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)
