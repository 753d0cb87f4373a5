"""bench/search.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import math
import os

import pytest

from bench import common, search
from bench.common import Context, Section, read_section, write_section


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
        command="pytest tests/bench",
        var_dir=tmp_path / "var",
        log=False,
    )


@pytest.mark.django_db
def test_search_tiny(tmp_path):
    ctx = _in_process_context(tmp_path)
    section = search.run(ctx)
    _numbers_present(section)
    body = _written(ctx, section)
    assert "Part of a name" in body and "Class filter" in body and "State filter" in body
    assert "COUNT query" in body and "rows query" in body
    assert "EXPLAIN" in body
