"""bench/letters.py runs once at the tiny size (no time is asserted)."""

from __future__ import annotations

import pytest

from bench import letters
from tests.bench.helpers import in_process_context, numbers_present, section_written


@pytest.mark.django_db
def test_letters_tiny(tmp_path):
    ctx = in_process_context(tmp_path)
    section = letters.run(ctx)
    numbers_present(section)
    section_written(ctx, section)
