"""Sign-in throughput: the app under gunicorn against bare Argon2id on the same cores.

gunicorn serves ``educompte.wsgi`` with one worker per core on loopback, against a
database holding activated pupils with real Argon2id hashes. ``wrk`` (one thread, so that
the client takes little CPU) signs pupils in over HTTP with rotating identifiers and a CSRF
cookie and token fetched once; every response that is not a 302 to /mes-services/ is
counted. Bare Argon2id runs one process per worker verifying the same kind of hash, half
of its time before the HTTP run and half after, so that both see the same machine.

Two runs: first the app's own cores (gunicorn and bare Argon2id pinned to three quarters
of the cores, PostgreSQL and wrk to the rest, as other machines hold them in a
deployment), which the target is judged on; then everything on all cores, as on a
single-machine installation. On one core, only the second. The tables are vacuumed
first (``bench.tasks.quiesce``), so that no autovacuum left by an earlier scenario's
imports runs during the measurement.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.common import (
    ROOT,
    Context,
    Figure,
    Section,
    child_env,
    code_block,
    free_port,
    percentile,
    run_task,
)
from bench.tasks import SIGNIN_PASSWORD

TARGET_RATIO = 0.85
SIZES = {
    "tiny": {"pupils": 20, "warmup": 0.5, "duration": 1.5, "workers": 1, "profile": 5},
    "full": {"pupils": 20000, "warmup": 5.0, "duration": 40.0, "workers": 0, "profile": 200},
}
LUA = Path(__file__).with_name("signin.lua")


# --- Bare Argon2id ----------------------------------------------------------------------


def _argon2_worker(encoded: str, password: str, seconds: float, queue, cpus=None) -> None:
    from argon2 import PasswordHasher

    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    hasher = PasswordHasher()
    count = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    deadline = wall0 + seconds
    while time.monotonic() < deadline:
        hasher.verify(encoded, password)
        count += 1
    queue.put((count, time.monotonic() - wall0, time.process_time() - cpu0))


@dataclasses.dataclass
class Bare:
    verifications: int = 0
    seconds: float = 0.0  # wall time of the slowest process, summed over the runs
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.verifications / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_verification(self) -> float:
        return self.cpu / self.verifications if self.verifications else 0.0


def argon2_hash(password: str) -> str:
    """An Argon2id hash made with the app's own parameters (educompte.core.hashers)."""
    from argon2 import PasswordHasher, Type

    from educompte.core.hashers import Argon2idHasher

    hasher = PasswordHasher(
        time_cost=Argon2idHasher.time_cost,
        memory_cost=Argon2idHasher.memory_cost,
        parallelism=Argon2idHasher.parallelism,
        type=Type.ID,
    )
    return hasher.hash(password)


def bare_argon2(
    processes: int, seconds: float, encoded: str, bare: Bare, cpus: list[int] | None = None
) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [
        context.Process(
            target=_argon2_worker, args=(encoded, SIGNIN_PASSWORD, seconds, queue, cpus)
        )
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    bare.verifications += sum(r[0] for r in results)
    bare.seconds += max(r[1] for r in results)
    bare.cpu += sum(r[2] for r in results)


# --- CPU accounting from /proc ------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _postgres_backends(dbname: str) -> list[int]:
    """The server processes serving our database (their title names it)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {dbname} " in title:
            out.append(int(entry.name))
    return out


def _machine_busy() -> tuple[float, float]:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


class CpuMeter:
    """CPU seconds used by groups of processes between ``start`` and ``stop``."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.used: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = {name: sum(_proc_cpu(p) for p in pids) for name, pids in self.groups.items()}
        sample["machine"], sample["machine_total"] = _machine_busy()
        return sample

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> None:
        after = self._sample()
        self.used = {k: after[k] - self._before[k] for k in after}


# --- The HTTP side ------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    requests: int
    seconds: float
    p50: float  # seconds
    p95: float
    p99: float
    bad: int
    errors: int
    tool: str
    first_bad: str = ""
    client_cpu: float | None = None  # seconds of CPU used by the load generator

    @property
    def rate(self) -> float:
        return (self.requests - self.bad) / self.seconds if self.seconds else 0.0


def _wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/connexion/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def csrf_pair(port: int) -> tuple[str, str]:
    """The csrftoken cookie and a form token, fetched once: Django accepts the same pair
    for every later POST."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/connexion/")
    response = conn.getresponse()
    body = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not cookie or not token:
        raise RuntimeError("no CSRF cookie or token on /connexion/")
    return token.group(1), cookie.group(1)


def _post_sign_in(
    conn: http.client.HTTPConnection, token: str, cookie: str, identifier: str
) -> tuple[int, str]:
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": identifier, "password": SIGNIN_PASSWORD}
    )
    conn.request(
        "POST",
        "/connexion/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
        },
    )
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("Location") or ""


def python_client(
    port: int, ids: list[str], token: str, cookie: str, connections: int, seconds: float
) -> LoadResult:
    """Fallback load generator when wrk is not installed (threads of http.client)."""
    latencies: list[float] = []
    bad = [0]
    errors = [0]
    first_bad = [""]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline:
            i = (i + 1) % len(ids)
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, location = _post_sign_in(conn, token, cookie, ids[i])
                conn.close()
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            elapsed = time.monotonic() - started
            with lock:
                latencies.append(elapsed)
                if status != 302 or "/mes-services/" not in location:
                    bad[0] += 1
                    first_bad[0] = first_bad[0] or f"{status} {location}"

    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(n * len(ids) // connections,))
        for n in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(
        requests=len(latencies),
        seconds=time.monotonic() - started,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        bad=bad[0],
        errors=errors[0],
        tool="Python http.client threads",
        first_bad=first_bad[0],
    )


def wrk_client(
    wrk: str,
    port: int,
    ids_file: Path,
    token: str,
    cookie: str,
    connections: int,
    seconds: float,
    cpus: list[int] | None = None,
) -> LoadResult:
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/connexion/",
        "--",
        str(ids_file),
        token,
        cookie,
        SIGNIN_PASSWORD,
    ]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(  # noqa: S603, PLW1509
            cmd, stdout=out, stderr=subprocess.STDOUT, text=True, preexec_fn=_pin(cpus)
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    match = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {output[-3000:]}")
    values = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    first = re.search(r"^BENCH_FIRST_BAD (.*)$", output, re.MULTILINE)
    return LoadResult(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50=values["p50_us"] / 1e6,
        p95=values["p95_us"] / 1e6,
        p99=values["p99_us"] / 1e6,
        bad=values["bad"],
        errors=values["connect"] + values["read"] + values["write"] + values["timeout"],
        tool=f"wrk, 1 thread, {connections} connections",
        first_bad=first.group(1).strip() if first else "",
        client_cpu=usage.ru_utime + usage.ru_stime,
    )


def find_wrk(install: bool) -> str | None:
    found = shutil.which("wrk")
    if found or not install:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)  # noqa: S607
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)  # noqa: S607
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)  # noqa: S607
    return shutil.which("wrk")


# --- Cores -------------------------------------------------------------------------------


@dataclasses.dataclass
class Placement:
    """Which cores run what. ``app`` runs the gunicorn workers and the bare Argon2id
    processes; ``other`` (when set) runs PostgreSQL and the load generator, which a
    deployment puts on other machines."""

    app: list[int]
    other: list[int] | None = None
    note: str = ""

    @property
    def label(self) -> str:
        if self.other is None:
            return "shared cores (app, PostgreSQL and wrk on the same cores)"
        return (
            f"app on core(s) {_cores_text(self.app)}, PostgreSQL and wrk on core(s) "
            f"{_cores_text(self.other)}"
        )


def _cores_text(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus)


def placements() -> list[Placement]:
    """The app's own cores first (PostgreSQL and the client on a quarter of the machine,
    at least one core), then everything shared, as on a single-machine installation."""
    cpus = sorted(os.sched_getaffinity(0))
    shared = Placement(app=cpus)
    if len(cpus) < 2:
        return [shared]
    n_other = max(1, len(cpus) // 4)
    return [Placement(app=cpus[:-n_other], other=cpus[-n_other:]), shared]


def _pin(cpus: list[int] | None):
    """A preexec_fn placing a child process on ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


class PostgresPinned:
    """Move the PostgreSQL server's processes (and so the backends it will fork) onto some
    cores for the HTTP run, then give them back their own affinity."""

    def __init__(self, cpus: list[int] | None) -> None:
        self.cpus = cpus
        self.saved: dict[int, set[int]] = {}
        self.failed = ""

    def __enter__(self) -> PostgresPinned:
        if self.cpus is None:
            return self
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if not (title.endswith(b"/postgres") or title.startswith(b"postgres")):
                continue
            pid = int(entry.name)
            try:
                self.saved[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, self.cpus)
            except PermissionError as exc:
                self.failed = f"PostgreSQL left on all cores ({exc.strerror})"
            except ProcessLookupError:
                continue
        return self

    def __exit__(self, *exc) -> None:
        for pid, cpus in self.saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, cpus)


# --- The scenario ---------------------------------------------------------------------------


@dataclasses.dataclass
class Measure:
    placement: Placement
    workers: int
    result: LoadResult
    bare: Bare
    cpu: dict[str, float]
    errors_log: str

    @property
    def ratio(self) -> float:
        return self.result.rate / self.bare.rate if self.bare.rate else 0.0


def _measure(
    ctx: Context,
    env: dict,
    size: dict,
    ids_file: Path,
    ids: list[str],
    tmp: Path,
    placement: Placement,
    wrk: str | None,
) -> Measure:
    workers = size["workers"] or len(placement.app)
    connections = 2 * workers
    port = free_port()
    log = tmp / f"gunicorn-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "educompte.wsgi",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
    ]
    app_cpus = placement.app if placement.other is not None else None
    ctx.say(f"sign-in: gunicorn with {workers} worker(s) on port {port}, {placement.label}")
    with PostgresPinned(placement.other) as pinned:
        if pinned.failed:
            placement.note = pinned.failed
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=_pin(app_cpus))  # noqa: S603, PLW1509
        try:
            _wait_until_up(port, server)
            token, cookie = csrf_pair(port)
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, location = _post_sign_in(probe, token, cookie, ids[0])
            if status != 302 or "/mes-services/" not in location:
                raise RuntimeError(f"a sign-in answered {status} {location!r}, not a 302")

            def load(seconds: float) -> LoadResult:
                if wrk:
                    return wrk_client(
                        wrk,
                        port,
                        ids_file,
                        token,
                        cookie,
                        connections,
                        seconds,
                        cpus=placement.other,
                    )
                return python_client(port, ids, token, cookie, connections, seconds)

            ctx.say("sign-in: warming up")
            load(size["warmup"])
            encoded = argon2_hash(SIGNIN_PASSWORD)
            bare = Bare()
            ctx.say("sign-in: bare Argon2id (first half)")
            bare_argon2(workers, size["duration"] / 2, encoded, bare, cpus=app_cpus)
            dbname = urllib.parse.urlparse(ctx.db_url).path.lstrip("/") if ctx.postgres else ""
            meter = CpuMeter(
                {
                    "workers": _children(server.pid),
                    "postgres": _postgres_backends(dbname) if dbname else [],
                }
            )
            ctx.say(f"sign-in: HTTP load for {size['duration']:.0f} s")
            meter.start()
            result = load(size["duration"])
            meter.stop()
            ctx.say("sign-in: bare Argon2id (second half)")
            bare_argon2(workers, size["duration"] / 2, encoded, bare, cpus=app_cpus)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    errors_log = log.read_text()[-3000:] if log.exists() else ""
    return Measure(placement, workers, result, bare, meter.used, errors_log)


def run(ctx: Context, *, use_wrk: bool | None = None) -> Section:
    size = SIZES[ctx.size]
    section = Section("signin", figures=[])
    started = time.monotonic()
    env = child_env(
        ctx.db_url,
        ctx.var_dir,
        EDUCOMPTE_SIGNIN_ADDRESS_LIMIT="1000000000",
        EDUCOMPTE_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        EDUCOMPTE_DB_CONN_MAX_AGE="600",
        EDUCOMPTE_LOG_LEVEL="WARNING",
    )
    wrk = find_wrk(install=ctx.full) if use_wrk is not False else None
    with tempfile.TemporaryDirectory(prefix="educompte-signin-") as tmp:
        ids_file = Path(tmp) / "identifiers.txt"
        ctx.say(f"sign-in: preparing {size['pupils']} activated pupils, profiling a sign-in")
        # The same child profiles the request path in-process once the pupils exist.
        profile = run_task(
            env,
            "prepare-signin",
            "--count",
            str(size["pupils"]),
            "--out",
            str(ids_file),
            "--profile",
            str(size["profile"]),
        )
        ids = [line for line in ids_file.read_text().split() if line]
        runs = [
            _measure(ctx, env, size, ids_file, ids, Path(tmp), placement, wrk)
            for placement in placements()
        ]

    main = runs[0]
    for run_ in runs:
        own = run_ is main
        suffix = (
            ""
            if len(runs) == 1
            else (" — app cores" if run_.placement.other else " — shared cores")
        )
        section.figures += [
            Figure(f"Sign-ins per second over HTTP{suffix}", run_.result.rate, "/s", digits=1),
            Figure(
                f"Bare Argon2id verifications per second{suffix}", run_.bare.rate, "/s", digits=1
            ),
            Figure(
                f"Ratio HTTP / bare Argon2id{suffix}",
                run_.ratio,
                "",
                target=f"≥ {TARGET_RATIO}" if own else "",
                met=(run_.ratio >= TARGET_RATIO) if own else None,
                digits=2,
            ),
            Figure(f"Latency p50{suffix}", run_.result.p50 * 1000, "ms", digits=0),
            Figure(f"Latency p95{suffix}", run_.result.p95 * 1000, "ms", digits=0),
            Figure(
                f"Responses that were not a 302 to /mes-services/{suffix}",
                run_.result.bad + run_.result.errors,
                "",
                target="0",
                met=run_.result.bad + run_.result.errors == 0,
                digits=0,
            ),
        ]
    if len(runs) > 1:
        section.notes.append(
            "The target is judged on the first run: the app's own cores, with PostgreSQL and "
            "the load generator moved to other cores as they are on other machines in a "
            "deployment (docs/DEPLOYMENT.md); the second run keeps everything on the same "
            "cores, as on a single-machine installation, and its PostgreSQL CPU is what the "
            "database servers must be sized for."
        )
    for run_ in runs:
        section.notes.append(_describe(run_, ids))
        section.details.append(
            f"CPU used during the HTTP run, {run_.placement.label} (from /proc):\n\n"
            + code_block("\n".join(_cpu_lines(run_)))
        )
        if run_.errors_log.strip() and run_.result.bad + run_.result.errors:
            section.details.append("gunicorn error log (tail):\n\n" + code_block(run_.errors_log))
    section.details.append(
        "Request path profiled in-process (`python -m bench.tasks "
        "prepare-signin --profile`, Django test client, same database):\n\n" + code_block(profile)
    )
    section.seconds = time.monotonic() - started
    return section


def _describe(run_: Measure, ids: list[str]) -> str:
    result, bare, workers = run_.result, run_.bare, run_.workers
    return (
        f"{run_.placement.label[:1].upper()}{run_.placement.label[1:]}: {workers} gunicorn sync "
        f"worker(s) (`gunicorn educompte.wsgi -w {workers}`), {len(ids)} activated pupils "
        f"rotated, load by {result.tool} for {result.seconds:.0f} s ({result.requests} "
        "requests; latency includes waiting behind the request already queued on each "
        f"worker); bare Argon2id: {workers} process(es) on the app's cores, "
        f"{bare.verifications} verifications over {bare.seconds:.0f} s (half before, half "
        "after the HTTP run)."
        + (f" {run_.placement.note}." if run_.placement.note else "")
        + (f" First unexpected response: `{result.first_bad}`." if result.first_bad else "")
    )


def _cpu_lines(run_: Measure) -> list[str]:
    used, result = run_.cpu, run_.result
    per_request = max(result.requests, 1)
    lines = [
        f"app workers: {used.get('workers', 0):.1f} s CPU "
        f"= {1000 * used.get('workers', 0) / per_request:.1f} ms per sign-in",
        f"PostgreSQL backends of the bench database: {used.get('postgres', 0):.1f} s "
        f"= {1000 * used.get('postgres', 0) / per_request:.2f} ms per sign-in",
    ]
    if result.client_cpu is not None:
        lines.append(
            f"wrk: {result.client_cpu:.1f} s = "
            f"{1000 * result.client_cpu / per_request:.2f} ms per sign-in"
        )
    lines += [
        f"bare Argon2id: {1000 * run_.bare.cpu_per_verification:.1f} ms CPU per verification",
        f"whole machine: {used.get('machine', 0):.1f} s busy of "
        f"{used.get('machine_total', 0):.1f} s available during the HTTP run "
        "(anything above the lines before is other jobs)",
    ]
    return lines
