"""Bulk reset of a class: a delegated agent resets the passwords of a 35-pupil class in one
go (educompte.pupils.services.reset_passwords), as Dépannage's "Réinitialiser la sélection"
does."""

from __future__ import annotations

import datetime
import time

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import loader
from bench.common import Context, Figure, Section, code_block, median, profile_top
from educompte.accounts.models import Delegation, Right, User
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import reset_passwords

TARGET_SECONDS = 1.0
BASE = 9300000
NAME = "Bench reset"
CLASS_SIZE = 35
SIZES = {"tiny": 3, "full": 9}  # timed runs


def _delegated_agent(establishment, n: int) -> User:
    """A fresh agent each run: the daily reset ceiling is per agent."""
    agent = User.objects.create(
        username=f"bench-reset-{establishment.uai.lower()}-{n}",
        kind=User.Kind.AGENT,
        password=make_password(None),
    )
    Delegation.objects.create(
        agent=agent,
        establishment=establishment,
        right=Right.DEPANNAGE,
        end=timezone.localdate() + datetime.timedelta(days=30),
    )
    return agent


def run(ctx: Context) -> Section:
    runs = SIZES[ctx.size]
    section = Section("reset", figures=[])
    started = time.monotonic()
    states = {AccountState.ACTIVE: 0.3, AccountState.INFORMED: 0.4, AccountState.NOT_INFORMED: 0.3}
    plan, _result = loader.load_schools(
        BASE,
        1,
        CLASS_SIZE,
        NAME,
        class_size=CLASS_SIZE,
        states=states,
        active_hashes=[make_password("Bench-reset-2026")],
    )
    est = plan[0].establishment
    agents: list[User] = []
    try:
        ids = list(
            StudentAccount.objects.filter(student__establishment=est).values_list("pk", flat=True)
        )
        assert len(ids) == CLASS_SIZE
        seconds = []
        queries = 0
        ctx.say(f"reset: {runs} bulk resets of a {CLASS_SIZE}-pupil class")
        for n in range(runs + 1):
            agent = _delegated_agent(est, n)
            agents.append(agent)
            if n == 0:  # warm-up, with the queries counted
                with CaptureQueriesContext(connection) as captured:
                    result = reset_passwords(agent, est, ids, ip="127.0.0.1")
                queries = len(captured.captured_queries)
            else:
                t0 = time.perf_counter()
                result = reset_passwords(agent, est, ids, ip="127.0.0.1")
                seconds.append(time.perf_counter() - t0)
            if len(result.reset) != CLASS_SIZE:
                raise RuntimeError(f"{len(result.reset)} accounts reset, {CLASS_SIZE} expected")
        mid = median(seconds)
        section.figures = [
            Figure(
                f"Reset of a {CLASS_SIZE}-pupil class (median of {runs})",
                mid,
                "s",
                target=f"≤ {TARGET_SECONDS:.0f} s",
                met=mid <= TARGET_SECONDS,
                digits=3,
            ),
            Figure("Slowest run", max(seconds), "s", digits=3),
            Figure("SQL queries per bulk reset", queries, "", digits=0),
        ]
        section.notes.append(
            "`reset_passwords(agent, establishment, ids)` by an agent holding a delegation "
            "of Dépannage (a new agent per run: the daily reset ceiling is per agent), on a "
            'class with every state but "Désactivé"; it includes the authorisation, the '
            "lock of the rows, new AES-GCM provisional passwords, the audit events and the "
            "hourly alert check, in one transaction."
        )
        if mid > TARGET_SECONDS:
            agent = _delegated_agent(est, runs + 1)
            agents.append(agent)
            section.details.append(
                "Profile (cProfile, by own time):\n\n"
                + code_block(profile_top(lambda: reset_passwords(agent, est, ids)))
            )
    finally:
        loader.purge_establishments([est.uai])
        User.objects.filter(pk__in=[a.pk for a in agents]).delete()
    section.seconds = time.monotonic() - started
    return section
