"""Helpers shared by the tests of this package."""

from __future__ import annotations

import math
import os

from bench import common
from bench.common import Context, Section, read_section, write_section


def section_written(ctx: Context, section: Section) -> str:
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


def in_process_context(tmp_path) -> Context:
    return Context(
        size="tiny",
        db_url=os.environ.get("DATABASE_URL") or "sqlite://",
        report=tmp_path / "PERFORMANCE.md",
        command="pytest tests/bench",
        var_dir=tmp_path / "var",
        log=False,
    )


def numbers_present(section: Section) -> None:
    assert section.figures
    for figure in section.figures:
        if figure.value is None:
            assert figure.unit, figure.label  # a verdict in words
        else:
            assert not math.isnan(float(figure.value)), figure.label
