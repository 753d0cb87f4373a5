"""bench/imports.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import re

from bench import imports
from tests.bench.helpers import numbers_present, section_written


def test_import_tiny(child_context):
    section = imports.run(child_context)
    numbers_present(section)
    body = section_written(child_context, section)
    assert re.search(r"peak memory \(max RSS\) \| \d+ MiB", body)
    assert "pupils/s" in body
