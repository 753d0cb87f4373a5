"""Django's database sessions, without a needless write at sign-in.

``login()`` cycles the session key against fixation. For a visitor whose session was never
saved (the usual sign-in: the form page stores nothing), Django's ``cycle_key`` writes an
empty session row only to rewrite it when the response saves the session — two writes,
five statements, on every successful sign-in (bench/signin.py, docs/PERFORMANCE.md). A
session without a key has nothing an attacker could have fixed: it gets its key when
first saved. Sessions that have a key are cycled as before.

A new key is not looked up before it is used either: the row is inserted with
``must_create``, and ``create()`` already draws another key if the insert collides.

Outside a transaction, the row is written by one statement in autocommit mode instead of
inside ``atomic()``: one statement is its own transaction, and BEGIN and COMMIT were two
of the sign-in's seven round trips to the database.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, IntegrityError, router, transaction
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

    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        if self.session_key is None or transaction.get_connection(using).in_atomic_block:
            return super().save(must_create)
        obj = self.create_model_instance(self._get_session(no_load=must_create))
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        return None
