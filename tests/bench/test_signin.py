"""bench/signin.py runs once at the tiny size, against gunicorn (no time is asserted)."""

from __future__ import annotations

from bench import signin
from tests.bench.helpers import numbers_present, section_written

# --- Each scenario once, tiny -----------------------------------------------------------------


def test_signin_tiny(child_context):
    section = signin.run(child_context)
    numbers_present(section)
    body = section_written(child_context, section)

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
