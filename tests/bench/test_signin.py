"""bench/signin.py runs once at the tiny size, against gunicorn (no time is asserted)."""

from __future__ import annotations

import math

from bench import common, signin
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
