"""bench/common.py: the report's sections and figures (the benchmarks themselves run in
the other modules of this package, once at the tiny size, so that `make bench` keeps working;
nothing here asserts a time)."""

from __future__ import annotations

import math

from bench import common
from bench.common import Figure, Section, write_section
from tests.bench.helpers import in_process_context

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
    ctx = in_process_context(tmp_path)
    body = section.render(ctx)
    assert "| 1 000 letters | 2.50 s | ≤ 10 s | met |" in body
    assert "| Slow | 12.0 s | ≤ 10 s | **missed** |" in body
    assert not section.all_met


def test_percentiles():
    assert common.percentile([3, 1, 2], 50) == 2
    assert common.percentile(range(101), 95) == 95
    assert math.isnan(common.percentile([], 50))
