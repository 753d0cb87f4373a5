"""bench/reset.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import pytest

from bench import reset
from tests.bench.helpers import in_process_context, numbers_present, section_written


@pytest.mark.django_db
def test_reset_tiny(tmp_path):
    ctx = in_process_context(tmp_path)
    section = reset.run(ctx)
    numbers_present(section)
    body = section_written(ctx, section)
    assert "SQL queries per bulk reset" in body
