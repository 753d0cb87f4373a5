"""educompte.core.sessions: database sessions that skip the empty write at sign-in."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from educompte.core.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_session_never_saved_gets_its_key_when_saved_once():
    session = SessionStore()
    session.cycle_key()  # what login() does
    assert session.session_key is None
    assert not Session.objects.exists()
    session["_auth_user_id"] = "7"
    session.save()
    assert Session.objects.count() == 1
    stored = SessionStore(session.session_key)
    assert stored["_auth_user_id"] == "7"


def test_a_saved_session_is_still_cycled_against_fixation():
    session = SessionStore()
    session["next"] = "/mes-services/"
    session.save()
    old = session.session_key
    session.cycle_key()
    assert session.session_key != old
    assert not Session.objects.filter(session_key=old).exists()
    assert SessionStore(session.session_key)["next"] == "/mes-services/"


def test_a_key_collision_draws_another_key(monkeypatch):
    taken = SessionStore()
    taken["a"] = 1
    taken.save()
    keys = iter([taken.session_key, "b" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    session = SessionStore()
    session["b"] = 2
    session.save()
    assert session.session_key == "b" * 32
    assert SessionStore(taken.session_key)["a"] == 1


# --- Sessions in autocommit mode ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_session_created_and_updated_in_autocommit_mode():
    assert connection.get_autocommit() and not connection.in_atomic_block
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    assert key and len(key) == 32
    assert SessionStore(key).load() == {"a": 1}

    session["a"] = 2
    session["b"] = "deux"
    with CaptureQueriesContext(connection) as queries:
        session.save()
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].lstrip().upper().startswith("UPDATE")
    assert session.session_key == key
    assert SessionStore(key).load() == {"a": 2, "b": "deux"}
    assert Session.objects.count() == 1

    # A new session is one INSERT.
    fresh = SessionStore()
    fresh["c"] = 3
    with CaptureQueriesContext(connection) as queries:
        fresh.save()
    assert [q["sql"].lstrip().upper()[:6] for q in queries] == ["INSERT"]
    assert Session.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_must_create_on_an_existing_key_raises_create_error():
    session = SessionStore()
    session["a"] = 1
    session.save()
    clash = SessionStore(session.session_key)
    clash["b"] = 2
    with pytest.raises(CreateError):
        clash.save(must_create=True)
    # The stored session is untouched and the connection still works.
    assert SessionStore(session.session_key).load() == {"a": 1}
    assert Session.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_updating_a_deleted_session_raises_update_error():
    session = SessionStore()
    session["a"] = 1
    session.save()
    Session.objects.filter(session_key=session.session_key).delete()
    session["a"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_key_collision_in_autocommit_mode_draws_another_key(monkeypatch):
    taken = SessionStore()
    taken["a"] = 1
    taken.save()
    keys = iter([taken.session_key, "c" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    session = SessionStore()
    session["b"] = 2
    session.save()
    assert session.session_key == "c" * 32
    assert SessionStore(taken.session_key).load() == {"a": 1}
    assert SessionStore("c" * 32).load() == {"b": 2}


@pytest.mark.django_db
def test_session_errors_inside_a_transaction_too():
    with transaction.atomic():
        session = SessionStore()
        session["a"] = 1
        session.save()
        clash = SessionStore(session.session_key)
        clash["b"] = 2
        with pytest.raises(CreateError):
            clash.save(must_create=True)
        Session.objects.filter(session_key=session.session_key).delete()
        session["a"] = 2
        with pytest.raises(UpdateError):
            session.save()
        # The outer transaction survived both errors.
        assert not Session.objects.exists()
