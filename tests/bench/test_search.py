"""bench/search.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import pytest

from bench import search
from tests.bench.helpers import in_process_context, numbers_present, section_written


@pytest.mark.django_db
def test_search_tiny(tmp_path):
    ctx = in_process_context(tmp_path)
    section = search.run(ctx)
    numbers_present(section)
    body = section_written(ctx, section)
    assert "Part of a name" in body and "Class filter" in body and "State filter" in body
    assert "COUNT query" in body and "rows query" in body
    assert "EXPLAIN" in body
