"""Credential letters: one PDF with the letters of a thousand pupils, as a head prints them
for the start of the school year (educompte.letters.services.issue_letters)."""

from __future__ import annotations

import time

from bench import loader
from bench.common import Context, Figure, Section, code_block, num, profile_top
from educompte.accounts import authz
from educompte.letters.services import issue_letters
from educompte.pupils.models import AccountState

TARGET_SECONDS = 10.0
BASE = 9200000
NAME = "Bench letters"
SIZES = {"tiny": 30, "full": 1000}


def run(ctx: Context) -> Section:
    count = SIZES[ctx.size]
    section = Section("letters", figures=[])
    started = time.monotonic()
    plan, _result = loader.load_schools(
        BASE, 1, count, NAME, states={AccountState.NOT_INFORMED: 1.0}, seed=count
    )
    est = plan[0].establishment
    try:
        ctx.say(f"letters: {count} letters in one PDF")
        t0 = time.perf_counter()
        result = issue_letters(authz.OPERATOR, est)
        seconds = time.perf_counter() - t0
        pages = result.pdf.count(b"/Type /Page\n") + result.pdf.count(b"/Type /Page ")
        if result.count != count:
            raise RuntimeError(f"{result.count} letters printed, {count} expected")
        section.figures = [
            Figure(
                f"{num(count)} letters in one PDF",
                seconds,
                "s",
                target=f"≤ {TARGET_SECONDS:.0f} s" if count >= 1000 else "",
                met=seconds <= TARGET_SECONDS if count >= 1000 else None,
                digits=2,
            ),
            Figure("Per letter", 1000 * seconds / count, "ms", digits=1),
            Figure("PDF size", len(result.pdf) / 1024 / 1024, "MiB", digits=2),
        ]
        section.notes.append(
            f"`issue_letters(authz.OPERATOR, establishment)` for a class-sorted "
            f'establishment of {count} pupils "Non activé - non informé" (real AES-GCM '
            f"provisional passwords, decrypted for each letter); the time includes the "
            f"queries, the PDF ({pages or '?'} pages), marking the accounts informed and "
            "one audit event per letter, in one transaction."
        )
        if count >= 1000 and seconds > TARGET_SECONDS:
            section.details.append(
                "Profile (cProfile, by own time):\n\n"
                + code_block(profile_top(lambda: issue_letters(authz.OPERATOR, est)))
            )
    finally:
        loader.purge_establishments([est.uai])
    section.seconds = time.monotonic() - started
    return section
