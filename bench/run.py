"""Entry point of the benchmarks.

    python -m bench.run [signin|search|import|letters|reset|all] [--size tiny|full]

Without ``--database-url`` (or ``BENCH_DATABASE_URL``) it runs ``bench/pg.sh``, which
installs and starts PostgreSQL if needed and creates the database ``educompte_bench``
(``educompte_bench_tiny`` for the tiny size). ``DATABASE_URL`` is deliberately ignored:
the search scenario may empty the database it loads, so it is never taken by accident.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BENCH_VAR, DEFAULT_REPORT, ROOT, SCENARIOS, SIZES, Context, write_section

# The order of ``all``: the scale load first, so that the others run against it too.
ORDER = ("search", "import", "letters", "reset", "signin")


def postgres_url(size: str) -> str:
    name = "educompte_bench" if size == "full" else "educompte_bench_tiny"
    done = subprocess.run(  # noqa: S603 - our own script
        ["/bin/bash", str(ROOT / "bench" / "pg.sh"), name],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def setup_django(db_url: str, var_dir: Path) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["EDUCOMPTE_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("EDUCOMPTE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "educompte.settings")
    var_dir.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def scenario_module(name: str):
    if name == "signin":
        from bench import signin as module
    elif name == "search":
        from bench import search as module
    elif name == "import":
        from bench import imports as module
    elif name == "letters":
        from bench import letters as module
    elif name == "reset":
        from bench import reset as module
    else:  # pragma: no cover - argparse refuses it
        raise ValueError(name)
    return module


def run_scenarios(ctx: Context, names: list[str]) -> list:
    """Run each scenario and rewrite its section of the report; returns the sections."""
    sections = []
    for name in names:
        ctx.say(f"== {name} ({ctx.size}) ==")
        section = scenario_module(name).run(ctx)
        write_section(ctx.report, name, section.render(ctx))
        ctx.say(
            f"{name}: "
            + "; ".join(
                f"{f.label} {f.measured()}" + (f" [{f.verdict()}]" if f.verdict() else "")
                for f in section.figures
            )
        )
        sections.append(section)
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"], nargs="?", default="all")
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)

    db_url = args.database_url or postgres_url(args.size)
    setup_django(db_url, BENCH_VAR)
    command = f"python -m bench.run {args.scenario} --size {args.size}"
    if os.environ.get("MAKELEVEL"):
        target = "bench" if args.scenario == "all" else f"bench-{args.scenario}"
        command = f"make {target}` → `{command}"
    ctx = Context(size=args.size, db_url=db_url, report=args.report, command=command)
    names = list(ORDER) if args.scenario == "all" else [args.scenario]
    started = time.monotonic()
    sections = run_scenarios(ctx, names)
    missed = [s.key for s in sections if not s.all_met]
    ctx.say(
        f"done in {time.monotonic() - started:.0f} s; report: {ctx.report}"
        + (f"; targets missed in: {', '.join(missed)}" if missed else "; every target met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
