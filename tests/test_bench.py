"""The benchmarks (bench/) run once at the tiny size, so that `make bench` keeps working.

Nothing here asserts a time: only that each scenario runs through and writes a well-formed
section of the report. The scenarios that need other processes (gunicorn, the
``educompte`` command) share a SQLite file migrated once; the others run in-process on the
test database (COPY on PostgreSQL, executemany on SQLite).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3

import pytest
from django.db import connection

from bench import common, imports, letters, loader, reset, search, signin
from bench.common import Context, Figure, Section, read_section, write_section


def _numbers_present(section: Section) -> None:
    assert section.figures
    for figure in section.figures:
        if figure.value is None:
            assert figure.unit, figure.label  # a verdict in words
        else:
            assert not math.isnan(float(figure.value)), figure.label


def _written(ctx: Context, section: Section) -> str:
    write_section(ctx.report, section.key, section.render(ctx))
    body = read_section(ctx.report, section.key)
    assert body is not None
    assert f"## {common.TITLES[section.key]}" in body
    assert "| Figure | Measured | Target | |" in body
    assert "**Machine:**" in body and "cores" in body and "Python" in body
    assert "**Command:**" in body and "**Date:**" in body
    for figure in section.figures:
        assert figure.label in body
    return body


def _in_process_context(tmp_path) -> Context:
    return Context(
        size="tiny",
        db_url=os.environ.get("DATABASE_URL") or "sqlite://",
        report=tmp_path / "PERFORMANCE.md",
        command="pytest tests/test_bench.py",
        var_dir=tmp_path / "var",
        log=False,
    )


@pytest.fixture(scope="module")
def child_context(tmp_path_factory, django_db_setup, django_db_blocker):
    """A migrated SQLite file for the child processes of the sign-in and import scenarios:
    a copy of the (empty) SQLite test database when there is one, else migrated."""
    base = tmp_path_factory.mktemp("bench")
    ctx = Context(
        size="tiny",
        db_url=f"sqlite:///{base / 'bench.sqlite3'}",
        report=base / "PERFORMANCE.md",
        command="pytest tests/test_bench.py",
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


# --- The report file ------------------------------------------------------------------------


def test_sections_are_replaced_in_place_and_other_text_is_kept(tmp_path):
    report = tmp_path / "PERFORMANCE.md"
    write_section(report, "reset", "## Bulk reset\n\nfirst\n")
    write_section(report, "signin", "## Sign-in\n\nfirst\n")
    report.write_text(report.read_text() + "\n## Notes written by hand\n\nkept\n")
    write_section(report, "reset", "## Bulk reset\n\nsecond\n")
    text = report.read_text()
    assert text.count("<!-- bench:reset:start -->") == 1
    assert "second" in text and "first\n<!-- bench:reset" not in text
    assert "Notes written by hand" in text and "kept" in text
    # Sections follow the scenarios' order whatever order they were written in.
    assert text.index("bench:signin:start") < text.index("bench:reset:start")
    write_section(report, "search", "## Search\n")
    text = report.read_text()
    assert text.index("bench:signin:start") < text.index("bench:search:start")
    assert text.index("bench:search:start") < text.index("bench:reset:start")


def test_figures_render_their_target_and_verdict(tmp_path):
    section = Section(
        "letters",
        figures=[
            Figure("1 000 letters", 2.5, "s", target="≤ 10 s", met=True, digits=2),
            Figure("PDF size", 1.25, "MiB", digits=2),
            Figure("Slow", 12.0, "s", target="≤ 10 s", met=False),
        ],
    )
    ctx = _in_process_context(tmp_path)
    body = section.render(ctx)
    assert "| 1 000 letters | 2.50 s | ≤ 10 s | met |" in body
    assert "| Slow | 12.0 s | ≤ 10 s | **missed** |" in body
    assert not section.all_met


def test_percentiles():
    assert common.percentile([3, 1, 2], 50) == 2
    assert common.percentile(range(101), 95) == 95
    assert math.isnan(common.percentile([], 50))


# --- Each scenario once, tiny -----------------------------------------------------------------


def test_signin_tiny(child_context):
    section = signin.run(child_context)
    _numbers_present(section)
    body = _written(child_context, section)

    def figures(prefix: str) -> list:
        return [f for f in section.figures if f.label.startswith(prefix)]

    runs = len(signin.placements())  # the app's own cores, then shared (one on one core)
    assert len(figures("Sign-ins per second over HTTP")) == runs
    assert all(f.value > 0 for f in figures("Sign-ins per second over HTTP"))
    assert all(f.value > 0 for f in figures("Bare Argon2id verifications per second"))
    assert all(f.value == 0 for f in figures("Responses that were not a 302"))
    # The target is judged on the first run only.
    ratios = figures("Ratio HTTP / bare Argon2id")
    assert ratios[0].target and all(not f.target for f in ratios[1:])
    assert "SQL queries per successful sign-in" in body
    assert "floor: a POST through the same middleware" in body


def test_import_tiny(child_context):
    section = imports.run(child_context)
    _numbers_present(section)
    body = _written(child_context, section)
    assert re.search(r"peak memory \(max RSS\) \| \d+ MiB", body)
    assert "pupils/s" in body


@pytest.mark.django_db
def test_search_tiny(tmp_path):
    ctx = _in_process_context(tmp_path)
    section = search.run(ctx)
    _numbers_present(section)
    body = _written(ctx, section)
    assert "Part of a name" in body and "Class filter" in body and "State filter" in body
    assert "COUNT query" in body and "rows query" in body
    assert "EXPLAIN" in body


@pytest.mark.django_db
def test_letters_tiny(tmp_path):
    ctx = _in_process_context(tmp_path)
    section = letters.run(ctx)
    _numbers_present(section)
    _written(ctx, section)


@pytest.mark.django_db
def test_reset_tiny(tmp_path):
    ctx = _in_process_context(tmp_path)
    section = reset.run(ctx)
    _numbers_present(section)
    body = _written(ctx, section)
    assert "SQL queries per bulk reset" in body


@pytest.mark.django_db
def test_the_loader_creates_pupils_through_the_lifecycle():
    """The loader is no account writer of its own: its pupils are what the lifecycle's bulk
    creation makes (the import's), in the states asked for."""
    from django.contrib.auth.hashers import make_password

    from educompte.pupils.models import AccountState, StudentAccount
    from educompte.pupils.services import provisional_password

    hashes = [make_password("Bench-loader-2026")]
    states = {AccountState.ACTIVE: 1, AccountState.NOT_INFORMED: 1, AccountState.DEACTIVATED: 1}
    plan, result = loader.load_schools(
        9500000, 2, 12, "Bench loader", states=states, active_hashes=hashes, chunk=7, keep=bool
    )
    accounts = list(
        StudentAccount.objects.filter(
            student__establishment__in=[s.establishment for s in plan]
        ).select_related("user", "student")
    )
    assert result.pupils == len(accounts) == len(result.kept) == 24
    assert {k.account_id for k in result.kept} == {a.pk for a in accounts}
    assert {a.state for a in accounts} == set(states)
    for account in accounts:
        if account.state == AccountState.ACTIVE:
            assert account.user.password in hashes and account.activated_at
        elif account.state == AccountState.NOT_INFORMED:
            assert len(provisional_password(account)) == 10
        else:
            assert account.student.left_on and not account.provisional_password_encrypted
    assert len({a.student.ine for a in accounts}) == 24
    loader.purge_establishments([s.establishment.uai for s in plan])
    assert not StudentAccount.objects.filter(pk__in=[a.pk for a in accounts]).exists()
