"""Fixtures shared by the tests of this directory."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection

from bench import common
from bench.common import Context


@pytest.fixture(scope="module")
def child_context(tmp_path_factory, django_db_setup, django_db_blocker):
    """A migrated SQLite file for the child processes of the sign-in and import scenarios:
    a copy of the (empty) SQLite test database when there is one, else migrated."""
    base = tmp_path_factory.mktemp("bench")
    ctx = Context(
        size="tiny",
        db_url=f"sqlite:///{base / 'bench.sqlite3'}",
        report=base / "PERFORMANCE.md",
        command="pytest tests/bench",
        var_dir=base / "var",
        log=False,
    )
    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            target = sqlite3.connect(base / "bench.sqlite3")
            connection.connection.backup(target)
            target.close()
            return ctx
    common.run_task(common.child_env(ctx.db_url, ctx.var_dir), "migrate")
    return ctx
