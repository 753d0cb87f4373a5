"""bench/imports.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import math
import re

from bench import common, imports
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


def test_import_tiny(child_context):
    section = imports.run(child_context)
    _numbers_present(section)
    body = _written(child_context, section)
    assert re.search(r"peak memory \(max RSS\) \| \d+ MiB", body)
    assert "pupils/s" in body
