"""educompte.core.sessions: database sessions that skip the empty write at sign-in."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

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
