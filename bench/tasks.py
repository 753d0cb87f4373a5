"""Database chores the benchmarks run in a child process, against the child's
``DATABASE_URL`` (the database a gunicorn or an ``educompte`` command will use).

    python -m bench.tasks migrate
    python -m bench.tasks prepare-signin --count N --out FILE [--profile K]
    python -m bench.tasks profile-signin --ids FILE [--count K]
    python -m bench.tasks create-establishments BASE COUNT NAME
    python -m bench.tasks purge UAI [UAI…]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SIGNIN_BASE = 9100000
SIGNIN_NAME = "Bench sign-in"
SIGNIN_PASSWORD = "Bench-signin-2026"  # noqa: S105 - the benchmark pupils' password
SIGNIN_HASHES = 4


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "educompte.settings")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def signin_identifiers(count: int) -> list[str]:
    """Identifiers of ``count`` activated pupils of the sign-in establishment, loading them
    if fewer exist (one load is reused by later runs)."""
    from django.contrib.auth.hashers import make_password

    from bench import loader
    from educompte.pupils.models import AccountState, StudentAccount
    from educompte.schools.models import Establishment

    def existing() -> list[str]:
        return list(
            StudentAccount.objects.filter(
                student__establishment__name__startswith=SIGNIN_NAME,
                state=AccountState.ACTIVE,
            )
            .order_by("pk")
            .values_list("user__username", flat=True)[:count]
        )

    found = existing()
    if len(found) >= count:
        return found
    old = Establishment.objects.filter(name__startswith=SIGNIN_NAME).values_list("uai", flat=True)
    loader.purge_establishments(list(old))
    hashes = [make_password(SIGNIN_PASSWORD) for _ in range(SIGNIN_HASHES)]
    loader.load_schools(
        SIGNIN_BASE,
        1,
        count,
        SIGNIN_NAME,
        states={AccountState.ACTIVE: 1.0},
        active_hashes=hashes,
        seed=count,
    )
    loader.analyze()
    return existing()


def quiesce() -> str:
    """Vacuum the tables an earlier scenario churned (an import writes and deletes hundreds
    of thousands of rows): autovacuum would otherwise run during the measurement, on the
    cores given to PostgreSQL, and the app would wait on it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    import time

    started = time.monotonic()
    tables = ["accounts_user", "pupils_student", "pupils_studentaccount", "django_session"]
    tables += ["accounts_throttlecounter", "accounts_signinfailure"]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
    return f"vacuumed {', '.join(tables)} in {time.monotonic() - started:.0f} s"


def profile_signin(ids: list[str], count: int) -> str:
    """Where the time of one sign-in goes: its queries, Argon2id alone against the whole
    request, and the functions that cost most (cProfile), through Django's test client."""
    import cProfile
    import io
    import pstats
    import time

    from django.contrib.auth.hashers import check_password
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from educompte.accounts.models import User

    client = Client()  # one client: its handler (and middleware) is built once, as a worker's

    def sign_in(identifier: str) -> None:
        client.cookies.clear()
        response = client.post("/connexion/", {"username": identifier, "password": SIGNIN_PASSWORD})
        if response.status_code != 302:
            raise RuntimeError(f"sign-in answered {response.status_code}")

    count = max(count, 2)
    sign_in(ids[0])  # imports, connection
    with CaptureQueriesContext(connection) as captured:
        sign_in(ids[1 % len(ids)])
    queries = list(captured.captured_queries)  # read now: the next request clears the log
    started = time.perf_counter()
    for i in range(count):
        sign_in(ids[i % len(ids)])
    per_request = (time.perf_counter() - started) / count
    encoded = User.objects.get(username=ids[0]).password
    started = time.perf_counter()
    for _ in range(count):
        check_password(SIGNIN_PASSWORD, encoded)
    per_check = (time.perf_counter() - started) / count
    floor = _floor(client, count)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        sign_in(ids[i % len(ids)])
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    top = [
        line
        for line in out.getvalue().splitlines()
        if line.strip() and not line.startswith(("   Ordered", "   List reduced"))
    ]
    lines = [
        f"{count} sign-ins, one at a time, in one process:",
        f"  whole request (test client, view, middleware, database): {per_request * 1000:.1f} ms",
        f"  Argon2id check_password alone: {per_check * 1000:.1f} ms",
        f"  everything else: {(per_request - per_check) * 1000:.1f} ms "
        f"({100 * (per_request - per_check) / per_request:.0f} % of the request)",
        f"  floor: a POST through the same middleware that writes a new session and "
        f"redirects (bench/floor_urls.py): {floor * 1000:.1f} ms",
        f"{len(queries)} SQL queries per successful sign-in:",
    ]
    for query in queries:
        sql = " ".join(query["sql"].split())
        lines.append(f"  {float(query['time']) * 1000:5.1f} ms  {sql[:150]}")
    lines.append("cProfile, functions by own time:")
    lines += ["  " + line for line in top[-14:]]
    return "\n".join(lines)


def _floor(client, count: int) -> float:
    """Seconds per request of bench/floor_urls.py through the same client and middleware."""
    import time

    from django.test.utils import override_settings

    with override_settings(ROOT_URLCONF="bench.floor_urls"):
        for _ in range(5):
            client.cookies.clear()
            client.post("/connexion/")
        started = time.perf_counter()
        for _ in range(count):
            client.cookies.clear()
            response = client.post("/connexion/")
            if response.status_code != 302:
                raise RuntimeError(f"the floor view answered {response.status_code}")
        return (time.perf_counter() - started) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    sub.add_parser("migrate")
    sub.add_parser("count-accounts")
    signin = sub.add_parser("prepare-signin")
    signin.add_argument("--count", type=int, required=True)
    signin.add_argument("--out", type=Path, required=True)
    signin.add_argument("--profile", type=int, default=0, help="then profile this many")
    create = sub.add_parser("create-establishments")
    create.add_argument("base", type=int)
    create.add_argument("count", type=int)
    create.add_argument("name")
    profile = sub.add_parser("profile-signin")
    profile.add_argument("--ids", type=Path, required=True)
    profile.add_argument("--count", type=int, default=100)
    purge = sub.add_parser("purge")
    purge.add_argument("uais", nargs="*")
    args = parser.parse_args(argv)

    _setup()
    if args.task == "migrate":
        migrate()
    elif args.task == "prepare-signin":
        migrate()
        ids = signin_identifiers(args.count)
        args.out.write_text("\n".join(ids) + "\n")
        quiesce()
        if args.profile:
            print(profile_signin(ids, args.profile))
    elif args.task == "count-accounts":
        from educompte.pupils.models import StudentAccount

        print(f"{StudentAccount.objects.count():,}".replace(",", " "))
    elif args.task == "profile-signin":
        ids = [line for line in args.ids.read_text().split() if line]
        print(profile_signin(ids, args.count))
    elif args.task == "create-establishments":
        from bench.loader import create_establishments, purge_establishments
        from educompte.pupils.models import StudentAccount
        from educompte.schools.models import Establishment

        # Leftovers of an earlier run that could not clean up.
        old = Establishment.objects.filter(name__startswith=args.name)
        purge_establishments(list(old.values_list("uai", flat=True)))
        print(StudentAccount.objects.count())  # what the database held before
        for est in create_establishments(args.base, args.count, args.name):
            print(est.uai)
    elif args.task == "purge":
        from bench.loader import purge_establishments

        print(purge_establishments(args.uais))
    return 0


if __name__ == "__main__":
    sys.exit(main())
