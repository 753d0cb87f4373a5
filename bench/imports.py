"""Registry import: ``educompte import-students FILE --uai UAI`` on SIECLE files of growing
size, each into a fresh establishment, timed from outside with its peak memory (the
child's own high-water resident set, VmHWM, read from /proc while it runs)."""

from __future__ import annotations

import datetime
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    ROOT,
    Context,
    Figure,
    Section,
    child_env,
    code_block,
    educompte_command,
    num,
    run_task,
)
from educompte.demo import siecle
from educompte.schools.models import school_year_of

BASE = 9400000
NAME = "Bench import"
TARGET_SECONDS = {2000: 3.0, 200000: 120.0}
TARGET_MB = 250.0
FLAT_FACTOR = 1.25  # peak memory of the largest file at most this times the smallest's
SIZES = {"tiny": [40, 160], "full": [2000, 50000, 200000]}
LEVELS = [
    ("6", "10010012110", 11),
    ("5", "10110001110", 12),
    ("4", "10210001110", 13),
    ("3", "10310019110", 14),
]
MEFS = {"10010012110": "6EME", "10110001110": "5EME", "10210001110": "4EME", "10310019110": "3EME"}


def siecle_file(uai: str, count: int, seed: int) -> bytes:
    """An ElevesSansAdresses.xml of ``count`` pupils made by the demo's generator, with
    INEs made unique (the generator draws them at random)."""
    classes_needed = -(-count // (siecle.PUPILS_PER_CLASS * len(LEVELS)))
    letters = [f"{chr(65 + i % 26)}{i // 26 or ''}" for i in range(classes_needed)]
    spec = {"levels": LEVELS, "letters": letters}
    rng = random.Random(seed)
    year = school_year_of(datetime.date.today())
    pupils = siecle.pupils_for(spec, year, rng, None)[:count]
    seen: set[str] = set()
    for pupil in pupils:
        while pupil["ine"] in seen:
            pupil["ine"] = siecle._ine(rng)
        seen.add(pupil["ine"])
    return siecle.eleves_xml(uai, year, pupils)


def _peak_rss_mib(pid: int) -> float | None:
    """The process's own high-water mark (VmHWM): unlike wait4's ru_maxrss, it does not
    include the memory of the parent it was started from (Linux counts the parent's
    resident set in a child's ru_maxrss when the child starts by vfork)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _run_measured(cmd: list[str], env: dict) -> tuple[float, float, str, str, int]:
    """Run ``cmd``; wall seconds, peak RSS in MiB (of this child only), output, status."""
    started = time.monotonic()
    peak = 0.0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=err)  # noqa: S603
        while proc.poll() is None:
            peak = max(peak, _peak_rss_mib(proc.pid) or 0.0)
            time.sleep(0.02)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return seconds, peak, out.read(), err.read(), proc.returncode


def run(ctx: Context) -> Section:
    sizes = SIZES[ctx.size]
    section = Section("import", figures=[])
    started = time.monotonic()
    env = child_env(ctx.db_url, ctx.var_dir, EDUCOMPTE_LOG_LEVEL="WARNING")
    accounts_before, *uais = run_task(
        env, "create-establishments", str(BASE), str(len(sizes)), NAME
    ).split()
    results: list[tuple[int, float, float, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="educompte-import-") as tmp:
            nomenclature = Path(tmp) / "Nomenclature.xml"
            nomenclature.write_bytes(siecle.nomenclature_xml(MEFS))
            for count, uai in zip(sizes, uais, strict=True):
                path = Path(tmp) / f"ElevesSansAdresses-{count}.xml"
                path.write_bytes(siecle_file(uai, count, seed=count + int(time.time())))
                megabytes = path.stat().st_size / 1024 / 1024
                ctx.say(f"import: {count} pupils ({megabytes:.1f} MiB of XML)")
                cmd = [
                    *educompte_command(),
                    "import-students",
                    str(path),
                    "--uai",
                    uai,
                    "--nomenclature",
                    str(nomenclature),
                ]
                seconds, peak, out, err, status = _run_measured(cmd, env)
                if status != 0:
                    raise RuntimeError(f"import of {count} pupils failed: {err[-3000:]}")
                created = re.search(r"created (\d+)", out)
                if not created or int(created.group(1)) != count:
                    raise RuntimeError(f"import of {count} pupils reported: {out!r}")
                results.append((count, seconds, peak, f"{megabytes:.1f} MiB"))
                path.unlink()
    finally:
        if ctx.full:  # a tiny run leaves its few pupils to the next run's clean-up
            try:
                run_task(env, "purge", *uais)
            except RuntimeError as exc:  # the next run's create-establishments retries
                ctx.say(f"import: clean-up failed ({str(exc)[-300:]})")

    peaks = [peak for _c, _s, peak, _m in results]
    for count, seconds, peak, megabytes in results:
        target = TARGET_SECONDS.get(count)
        label = f"{num(count)} pupils ({megabytes} of XML): wall time"
        section.figures.append(
            Figure(
                label,
                seconds,
                "s",
                target=f"≤ {target:.0f} s" if target else "",
                met=seconds <= target if target else None,
                digits=1,
            )
        )
        section.figures.append(
            Figure(
                f"{num(count)} pupils: peak memory (max RSS)",
                peak,
                "MiB",
                target=f"≤ {TARGET_MB:.0f} MB",
                met=peak <= TARGET_MB,
                digits=0,
            )
        )
    growth = peaks[-1] / peaks[0] if peaks[0] else float("nan")
    section.figures.append(
        Figure(
            f"Peak memory of the largest file over the smallest's "
            f"({num(sizes[-1])} / {num(sizes[0])} pupils)",
            growth,
            "×",
            target=f"flat: ≤ {FLAT_FACTOR}×",
            met=growth <= FLAT_FACTOR,
            digits=2,
        )
    )
    section.notes.append(
        "Each file is a SIECLE ElevesSansAdresses.xml made by `educompte/demo/siecle.py` "
        "(ISO-8859-15, classes of 36, with the nomenclature file), imported by "
        "`educompte import-students FILE --uai UAI --nomenclature FILE` in a child process "
        f"into a fresh establishment of a database holding {num(int(accounts_before))} pupil "
        "accounts; "
        "wall time includes the command's start-up (Django, about a second), peak memory "
        "is the child's own high-water resident set (VmHWM). The establishments are deleted "
        "afterwards (at the next run for the tiny size)."
    )
    section.details.append(
        code_block(
            "\n".join(
                f"{count:>8} pupils  {seconds:7.1f} s  {count / seconds:8.0f} pupils/s  "
                f"peak {peak:6.0f} MiB"
                for count, seconds, peak, _m in results
            )
        )
    )
    section.seconds = time.monotonic() - started
    return section
