"""Bulk loading of establishments, classes, pupils and their accounts for the benchmarks.

Pupils are generated as a stream and created by the lifecycle's bulk creation
(``educompte.pupils.lifecycle.create_many``, the registry import's own): PostgreSQL's COPY
there, ``bulk_create`` on SQLite (the tests), never the ORM one object at a time.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import connection, models, transaction
from django.utils import timezone

from educompte.accounts.models import User
from educompte.core.text import normalize
from educompte.demo.names import FIRST_NAMES, LAST_NAMES
from educompte.pupils import identifiers, lifecycle
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.schools.models import Division, Establishment, Mef, school_year_of
from educompte.schools.uai import check_letter

# The national nomenclature's MEFs of the demo: four levels of collège, four of lycée.
LEVELS = {
    "college": [
        ("6", "10010012110", "6EME", 11),
        ("5", "10110001110", "5EME", 12),
        ("4", "10210001110", "4EME", 13),
        ("3", "10310019110", "3EME", 14),
    ],
    "lycee": [
        ("2", "20010018110", "2NDE GENERALE ET TECHNO", 15),
        ("1G", "20111010110", "1ERE GENERALE", 16),
        ("1STMG", "21133102110", "1ERE STMG", 16),
        ("T", "20212001110", "TERMINALE GENERALE", 17),
    ],
}
# A school a few weeks into the year (as the demo): every state, most not activated yet.
DEFAULT_STATES = {
    AccountState.ACTIVE: 0.30,
    AccountState.INFORMED: 0.35,
    AccountState.NOT_INFORMED: 0.30,
    AccountState.DEACTIVATED: 0.05,
}
INE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


# --- Helpers ------------------------------------------------------------------------------


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def next_id(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
        return cursor.fetchone()[0]


def analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (User, Student, StudentAccount, Division, Establishment):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- Establishments and classes -----------------------------------------------------------


def uai_for(number: int) -> str:
    digits = f"{number:07d}"
    return digits + check_letter(digits)


def create_establishments(base: int, count: int, name: str) -> list[Establishment]:
    """``count`` new establishments with valid UAIs from ``base`` up (skipping used ones)."""
    used = set(
        Establishment.objects.filter(uai__startswith=f"{base:07d}"[:3]).values_list(
            "uai", flat=True
        )
    )
    chosen: list[str] = []
    number = base
    while len(chosen) < count:
        uai = uai_for(number)
        if uai not in used:
            chosen.append(uai)
        number += 1
    Establishment.objects.bulk_create(
        Establishment(uai=uai, name=f"{name} n°{i + 1}") for i, uai in enumerate(chosen)
    )
    return list(Establishment.objects.filter(uai__in=chosen).order_by("uai"))


def mefs() -> dict[str, Mef]:
    out = {}
    for levels in LEVELS.values():
        for _level, code, label, _age in levels:
            out[code], _created = Mef.objects.get_or_create(code=code, defaults={"label": label})
    return out


@dataclasses.dataclass
class SchoolClasses:
    establishment: Establishment
    classes: list[tuple[Division, Mef, int]]  # division, its MEF, age of its pupils


def create_classes(
    establishments: list[Establishment], pupils_each: int, class_size: int, year: int
) -> list[SchoolClasses]:
    """Classes of about ``class_size`` pupils over four levels (collèges and lycées
    alternately)."""
    by_code = mefs()
    per_school = max(1, -(-pupils_each // class_size))
    plan = []
    divisions = []
    for index, est in enumerate(establishments):
        levels = LEVELS["college" if index % 2 == 0 else "lycee"]
        rows = []
        for n in range(per_school):
            level, code, _label, age = levels[n % len(levels)]
            letter_no = n // len(levels)
            letter = chr(65 + letter_no % 26) + (
                str(letter_no // 26 + 1) if letter_no >= 26 else ""
            )
            division = Division(establishment=est, code=f"{level}{letter}", school_year=year)
            divisions.append(division)
            rows.append((division, by_code[code], age))
        plan.append(SchoolClasses(est, rows))
    Division.objects.bulk_create(divisions, batch_size=5000)
    if not all(d.pk for d in divisions):  # backends that do not return ids
        ids = {
            (d.establishment_id, d.code): d.pk
            for d in Division.objects.filter(establishment__in=establishments, school_year=year)
        }
        for division in divisions:
            division.pk = ids[(division.establishment_id, division.code)]
    return plan


# --- Pupils ---------------------------------------------------------------------------------


@dataclasses.dataclass
class LoadedPupil:
    account_id: int
    user_id: int
    username: str
    state: str
    division_id: int


@dataclasses.dataclass
class LoadResult:
    pupils: int = 0
    seconds: float = 0.0
    kept: list[LoadedPupil] = dataclasses.field(default_factory=list)


class _Names:
    """Names with their normalised forms computed once (a million pupils share a few
    thousand combinations)."""

    def __init__(self) -> None:
        self.first = [(n, normalize(n)) for n in FIRST_NAMES]
        self.last = [(n, normalize(n)) for n in LAST_NAMES]


_NAMES = _Names()


def _identifiers_for(
    names: list[tuple[str, str]], taken: set[str], rng: random.Random
) -> list[str]:
    """The app's own identifier scheme (identifiers.generate_many), unique in this load and
    in the database."""

    def busy(candidates: set[str]) -> set[str]:
        found = candidates & taken
        rest = sorted(candidates - found)
        for start in range(0, len(rest), 5000):
            found.update(
                User.objects.filter(username__in=rest[start : start + 5000]).values_list(
                    "username", flat=True
                )
            )
        return found

    chosen = identifiers.generate_many(names, busy, rng=rng)
    taken.update(chosen)
    return chosen


def load_pupils(
    plan: list[SchoolClasses],
    pupils_each: int,
    *,
    states: dict[str, float] | None = None,
    active_hashes: Sequence[str] = (),
    seed: int = 2026,
    chunk: int = 20000,
    keep: Callable[[LoadedPupil], bool] | None = None,
    progress: Callable[[int], None] | None = None,
    trusted: bool = False,
) -> LoadResult:
    """``pupils_each`` pupils with accounts in every establishment of ``plan``.

    ``states`` weights the account states; activated accounts get one of
    ``active_hashes`` (real Argon2id hashes: verifying any of them costs the same), the
    others a real AES-GCM provisional password (lifecycle.create_many). ``keep`` selects
    the pupils returned in ``LoadResult.kept``. Each chunk is committed on its own when not
    in a transaction. ``trusted`` skips the foreign-key checks of the rows (they reference
    rows made here).
    """
    states = states or DEFAULT_STATES
    if AccountState.ACTIVE in states and states[AccountState.ACTIVE] > 0 and not active_hashes:
        raise ValueError("activated accounts need at least one password hash")
    state_names = list(states)
    cumulative = list(itertools.accumulate(states[s] for s in state_names))
    rng = random.Random(seed)
    started = time.monotonic()
    today = timezone.localdate()
    result = LoadResult()
    taken: set[str] = set()
    # Registry ids and INEs from a counter above every existing pupil's id: unique across
    # loads.
    serial = next_id(Student)

    def slots() -> Iterator[tuple[Establishment, Division, Mef, int]]:
        for school in plan:
            for n in range(pupils_each):
                division, mef, age = school.classes[n % len(school.classes)]
                yield school.establishment, division, mef, age

    for batch in _chunks(slots(), chunk):
        names = [(rng.choice(_NAMES.first), rng.choice(_NAMES.last)) for _ in batch]
        logins = _identifiers_for([(f[0], la[0]) for f, la in names], taken, rng)
        pupils = []
        for (est, division, mef, age), (first, last), login in zip(
            batch, names, logins, strict=True
        ):
            state = state_names[_pick(cumulative, rng.random())]
            birth = datetime.date(today.year - age, 1, 1) + datetime.timedelta(
                days=rng.randrange(365)
            )
            left_on = None
            if state == AccountState.DEACTIVATED:
                left_on = today - datetime.timedelta(days=rng.randrange(1, 60))
            pupils.append(
                lifecycle.NewPupil(
                    username=login,
                    establishment_id=est.pk,
                    first_name=first[0],
                    last_name=last[0],
                    birth_date=birth,
                    registry_id=str(serial),
                    ine=f"0{serial:09d}{INE_LETTERS[serial % 23]}",
                    division_id=division.pk,
                    mef_id=mef.pk,
                    left_on=left_on,
                    search_name=f"{last[1]} {first[1]}".strip(),
                    state=state,
                    password_hash=(
                        active_hashes[serial % len(active_hashes)]
                        if state == AccountState.ACTIVE
                        else None
                    ),
                )
            )
            serial += 1
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _fast_session(trusted=trusted)
            created = lifecycle.create_many(pupils)
        if keep is not None:
            for pupil, ids in zip(pupils, created, strict=True):
                loaded = LoadedPupil(
                    ids.account_id, ids.user_id, pupil.username, pupil.state, pupil.division_id
                )
                if keep(loaded):
                    result.kept.append(loaded)
        result.pupils += len(batch)
        if progress:
            progress(result.pupils)
    result.seconds = time.monotonic() - started
    return result


def _fast_session(*, trusted: bool) -> None:
    """For this transaction: no wait for the WAL flush; and, for rows generated consistent
    (``trusted``) by a superuser, no foreign-key trigger per row."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        if trusted:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                cursor.execute("SET LOCAL session_replication_role = replica")


def _pick(cumulative: list[float], roll: float) -> int:
    roll *= cumulative[-1]
    for index, bound in enumerate(cumulative):
        if roll < bound:
            return index
    return len(cumulative) - 1


def load_schools(
    base: int,
    count: int,
    pupils_each: int,
    name: str,
    *,
    class_size: int = 30,
    **kwargs,
) -> tuple[list[SchoolClasses], LoadResult]:
    """Establishments, their classes and their pupils in one call."""
    year = school_year_of(timezone.localdate())
    establishments = create_establishments(base, count, name)
    plan = create_classes(establishments, pupils_each, class_size, year)
    return plan, load_pupils(plan, pupils_each, **kwargs)


# --- Cleaning up ----------------------------------------------------------------------------


def _sql_cascade(model: type[models.Model], ids: list[int]) -> int:
    """Delete rows by id on PostgreSQL as Django's on_delete rules say (CASCADE, SET_NULL,
    PROTECT), with one statement per relation and an array of ids: what the ORM's
    collector does, without loading a quarter of a million objects."""
    if not ids:
        return 0
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for rel in model._meta.related_objects:
            if rel.many_to_many or not getattr(rel.field, "concrete", False):
                continue
            related, column = rel.related_model, rel.field.column
            table = qn(related._meta.db_table)
            on_delete = rel.field.remote_field.on_delete
            if on_delete is models.CASCADE:
                cursor.execute(
                    f"SELECT id FROM {table} WHERE {qn(column)} = ANY(%s)",  # noqa: S608
                    [ids],
                )
                _sql_cascade(related, [row[0] for row in cursor.fetchall()])
            elif on_delete is models.SET_NULL:
                cursor.execute(
                    f"UPDATE {table} SET {qn(column)} = NULL WHERE {qn(column)} = ANY(%s)",  # noqa: S608
                    [ids],
                )
            elif on_delete is not models.DO_NOTHING:
                cursor.execute(
                    f"SELECT 1 FROM {table} WHERE {qn(column)} = ANY(%s) LIMIT 1",  # noqa: S608
                    [ids],
                )
                if cursor.fetchone():
                    raise RuntimeError(f"{related.__name__} rows still point to {model.__name__}")
        cursor.execute(
            f"DELETE FROM {qn(model._meta.db_table)} WHERE id = ANY(%s)",  # noqa: S608
            [ids],
        )
        return cursor.rowcount


def purge_establishments(uais: Iterable[str]) -> int:
    """Delete benchmark establishments with their pupils, logins, classes and audit trail
    (following the models' on_delete rules: in SQL on PostgreSQL, through the ORM
    elsewhere)."""
    from educompte.accounts.models import Assignment, Delegation
    from educompte.audit.models import AuditEvent

    ests = list(Establishment.objects.filter(uai__in=list(uais)))
    if not ests:
        return 0
    est_ids = [e.pk for e in ests]
    user_ids = list(
        StudentAccount.objects.filter(student__establishment__in=ests).values_list(
            "user_id", flat=True
        )
    )
    if connection.vendor == "postgresql":
        with transaction.atomic():
            AuditEvent.objects.filter(establishment__in=ests).delete()
            _sql_cascade(User, user_ids)
            _sql_cascade(
                Student,
                list(Student.objects.filter(establishment__in=ests).values_list("pk", flat=True)),
            )
            _sql_cascade(Establishment, est_ids)
        return len(user_ids)
    for start in range(0, len(user_ids), 5000):
        with transaction.atomic():
            User.objects.filter(pk__in=user_ids[start : start + 5000]).delete()
    with transaction.atomic():
        AuditEvent.objects.filter(establishment__in=ests).delete()
        Student.objects.filter(establishment__in=ests).delete()
        Assignment.objects.filter(establishment__in=ests).delete()
        Delegation.objects.filter(establishment__in=ests).delete()
        Establishment.objects.filter(pk__in=est_ids).delete()
    return len(user_ids)
