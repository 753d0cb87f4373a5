"""Shared pieces of the benchmarks: the machine, statistics, the report file, child processes."""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "docs" / "PERFORMANCE.md"
# Keys and caches of the benchmark's Django processes: kept between runs, so that the
# provisional passwords of the cached million-pupil database stay readable.
BENCH_VAR = ROOT / "var" / "bench"
SCENARIOS = ("signin", "search", "import", "letters", "reset")
TITLES = {
    "signin": "Sign-in throughput",
    "search": "Console search at scale",
    "import": "Registry import",
    "letters": "Credential letters",
    "reset": "Bulk reset of a class",
}
SIZES = ("tiny", "full")

HEADER = """# Performance

Figures measured by `make bench` (the `bench/` package). Each scenario rewrites its own
section below when it runs (`make bench-signin`, `bench-search`, `bench-import`,
`bench-letters`, `bench-reset`); the text outside the sections is kept.
"""


# --- Statistics ---------------------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def median(values: Iterable[float]) -> float:
    return percentile(values, 50)


# --- The machine --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return math.nan


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def database_version(db_url: str) -> str:
    if db_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        try:
            with psycopg.connect(db_url, connect_timeout=5) as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]
            return f"PostgreSQL {version.split()[0]}"
        except psycopg.Error as exc:
            return f"PostgreSQL (unreachable: {exc.__class__.__name__})"
    return f"SQLite {sqlite3.sqlite_version}"


def machine(db_url: str) -> dict[str, str]:
    return {
        "CPU": cpu_model(),
        "cores": str(cores()),
        "RAM": f"{ram_gib():.1f} GiB",
        "OS": platform.platform(terse=True),
        "Python": platform.python_version(),
        "database": database_version(db_url),
    }


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return (math.nan, math.nan, math.nan)


# --- One run of one scenario --------------------------------------------------------------


@dataclasses.dataclass
class Context:
    """What every scenario needs: the size, where to write, which database."""

    size: str
    db_url: str
    report: Path = DEFAULT_REPORT
    command: str = ""
    var_dir: Path = BENCH_VAR
    log: bool = True

    @property
    def full(self) -> bool:
        return self.size == "full"

    @property
    def postgres(self) -> bool:
        return self.db_url.startswith(("postgres://", "postgresql://"))

    def say(self, message: str) -> None:
        if self.log:
            print(f"[bench {datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclasses.dataclass
class Figure:
    label: str
    value: float | None
    unit: str = ""
    target: str = ""  # e.g. "≤ 50 ms"; empty when the figure is only informative
    met: bool | None = None
    digits: int = 1

    def measured(self) -> str:
        if self.value is None and self.unit:
            return self.unit  # a verdict in words (e.g. "yes")
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "n/a"
        if isinstance(self.value, int) or self.digits == 0:
            text = f"{round(self.value):,}".replace(",", " ")
        else:
            text = f"{self.value:,.{self.digits}f}".replace(",", " ")
        return f"{text} {self.unit}".strip()

    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "met" if self.met else "**missed**"


@dataclasses.dataclass
class Section:
    key: str
    figures: list[Figure]
    details: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    started: datetime.datetime = dataclasses.field(
        default_factory=lambda: datetime.datetime.now().astimezone()
    )
    load_before: tuple[float, float, float] = dataclasses.field(default_factory=load_average)
    seconds: float = 0.0

    @property
    def all_met(self) -> bool:
        return all(f.met is not False for f in self.figures)

    def render(self, ctx: Context) -> str:
        info = machine(ctx.db_url)
        load_after = load_average()
        # The run loads the machine itself: only the load found before it tells of others.
        busy = self.load_before[0] > 0.5 * int(info["cores"])
        lines = [
            f"## {TITLES[self.key]}",
            "",
            f"- **Date:** {self.started:%Y-%m-%d %H:%M %Z} ({self.seconds:.0f} s)",
            f"- **Command:** `{ctx.command}` (size `{ctx.size}`)",
            "- **Machine:** " + ", ".join(f"{k} {v}" if k != "CPU" else v for k, v in info.items()),
            f"- **Load average (1 min) before / after:** {self.load_before[0]:.2f} / "
            f"{load_after[0]:.2f}"
            + (" — other jobs were running on the machine when this run started" if busy else ""),
            "",
            "| Figure | Measured | Target | |",
            "|---|---:|---|---|",
        ]
        for fig in self.figures:
            lines.append(f"| {fig.label} | {fig.measured()} | {fig.target} | {fig.verdict()} |")
        lines.append("")
        for note in self.notes:
            lines += [note, ""]
        for chunk in self.details:
            lines += [chunk.rstrip(), ""]
        return "\n".join(lines).rstrip() + "\n"


def _markers(key: str) -> tuple[str, str]:
    return f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"


def write_section(path: Path, key: str, body: str) -> None:
    """Replace the section ``key`` of the report (creating the file or the section, in the
    scenarios' order); everything else in the file is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    start, end = _markers(key)
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        # Before the first section of a later scenario, else at the end.
        later = SCENARIOS[SCENARIOS.index(key) + 1 :] if key in SCENARIOS else ()
        positions = [text.find(_markers(k)[0]) for k in later]
        positions = [p for p in positions if p >= 0]
        if positions:
            at = min(positions)
            text = text[:at] + block + "\n\n" + text[at:]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def read_section(path: Path, key: str) -> str | None:
    if not path.exists():
        return None
    start, end = _markers(key)
    match = re.search(re.escape(start) + r"(.*?)" + re.escape(end), path.read_text(), re.DOTALL)
    return match.group(1) if match else None


# --- Child processes ----------------------------------------------------------------------


def child_env(db_url: str, var_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment of the app processes the benchmarks start: the same database and the
    same keys as this process (so provisional passwords written here can be read there)."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="educompte.settings",
        EDUCOMPTE_SECRET_KEY=settings.SECRET_KEY,
        EDUCOMPTE_PROVISIONAL_PASSWORD_KEY=settings.EDUCOMPTE_PROVISIONAL_PASSWORD_KEY,
        EDUCOMPTE_VAR_DIR=str(var_dir or settings.VAR_DIR),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    )
    env.update(extra)
    return env


def python() -> str:
    return sys.executable


def educompte_command() -> list[str]:
    """The ``educompte`` console script of this environment (as an operator runs it)."""
    script = Path(sys.executable).with_name("educompte")
    if script.exists():
        return [str(script)]
    found = shutil.which("educompte")
    return [found] if found else [sys.executable, "-m", "educompte"]


def run_task(env: dict[str, str], *args: str, timeout: float = 3600) -> str:
    """Run ``python -m bench.tasks ARGS`` against the child environment's database."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [python(), "-m", "bench.tasks", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.tasks {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def num(value: float, digits: int = 0) -> str:
    """1 000 000: French-style grouping with a space, readable in Markdown."""
    return f"{value:,.{digits}f}".replace(",", " ")


def code_block(text: str, lang: str = "text") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def profile_top(call, limit: int = 15) -> str:
    """cProfile of one call: the functions that cost most by their own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())
