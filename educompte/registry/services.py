"""Registry imports: create, update and deactivate pupils from a SIECLE or CSV export.

An import is all or nothing: the whole file is validated first (nothing is written if any
element or line is wrong), then applied in one transaction. It is idempotent: pupils are
matched on their INE or else on their registry id in the establishment.

A file never takes a pupil from another establishment: a pupil who is still current there
becomes a transfer request that establishment decides on (``registry.transfers``); only a
pupil it has marked as departed, born on the day the file says, moves with the file. A
dry run (the preview) sees no other establishment's pupils at all, so it reveals nothing
about them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Callable, Iterator
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.core.text import normalize
from educompte.pupils import identifiers, lifecycle
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.registry import transfers
from educompte.registry.models import TransferRequest
from educompte.registry.parsers import PupilRecord, RegistrySource
from educompte.registry.scratch import DiskSequence, DiskSet, Scratch
from educompte.schools.models import Division, Establishment, Mef, school_year_of

BATCH = 1000
SAMPLES = 20
# The preview lists every account a mass deactivation would deactivate (up to this many):
# the person confirms having read who they are.
SAMPLE_LIMITS = {"deactivated": 2000}
# A complete import deactivating more than this share of the establishment's live accounts,
# or more than this number, is most likely the wrong file (one class's export, last
# year's…): it runs only when the person confirms the count they were shown.
MASS_DEACTIVATION_SHARE = 0.05
MASS_DEACTIVATION_COUNT = 20


def mass_deactivation_limit(live_accounts: int) -> int:
    """The most deactivations an import makes without the count being confirmed."""
    return min(MASS_DEACTIVATION_COUNT, int(live_accounts * MASS_DEACTIVATION_SHARE))


class MassDeactivation(Exception):
    """The import would deactivate more accounts than the person confirmed (nothing was
    written). ``count`` is what it would deactivate."""

    def __init__(self, count: int, allowed: int | None):
        super().__init__(
            f"the import would deactivate {count} accounts"
            + (f", only {allowed} allowed" if allowed is not None else "")
        )
        self.count = count
        self.allowed = allowed


@dataclasses.dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    # Pupils current in another establishment: transfer request pending, or refused.
    transfers: int = 0
    transfers_refused: int = 0
    # Departed pupils listed again: their accounts come back (new provisional password),
    # except those staff deactivated, which stay deactivated.
    reactivated: int = 0
    kept_deactivated: int = 0
    # New pupils with the name and class of a pupil already there: two pupils, or one
    # listed under another registry id? Staff check before handing out letters.
    homonyms: int = 0
    # Live accounts before the import, and the most deactivations it may make without the
    # count being confirmed (``mass_deactivation_limit``).
    live_before: int = 0
    deactivation_limit: int = 0
    dry_run: bool = False
    samples: dict[str, list[str]] = dataclasses.field(
        default_factory=lambda: {
            "created": [],
            "updated": [],
            "deactivated": [],
            "transfer": [],
            "transfer_refused": [],
            "reactivated": [],
            "kept_deactivated": [],
            "homonym": [],
        }
    )

    def summary_line(self) -> str:
        line = (
            f"created {self.created}, updated {self.updated}, "
            f"deactivated {self.deactivated}, unchanged {self.unchanged}"
        )
        if self.transfers:
            line += f", transfer requests pending {self.transfers}"
        if self.transfers_refused:
            line += f", transfer requests refused {self.transfers_refused}"
        if self.reactivated:
            line += f", reactivated {self.reactivated}"
        if self.kept_deactivated:
            line += f", kept deactivated by staff {self.kept_deactivated}"
        return line

    @property
    def mass_deactivation(self) -> bool:
        """More deactivations than an import makes without their count being confirmed."""
        return self.deactivated > self.deactivation_limit

    def sample(self, kind: str, text: str) -> None:
        if len(self.samples[kind]) < SAMPLE_LIMITS.get(kind, SAMPLES):
            self.samples[kind].append(text)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"mass_deactivation": self.mass_deactivation}


def _batches(records: Iterator[PupilRecord], size: int) -> Iterator[list[PupilRecord]]:
    while batch := list(islice(records, size)):
        yield batch


class _Context:
    """Per-import caches of classes (code -> id: a model instance per class would grow with
    a big file's hundreds of classes) and MEFs, created on first use."""

    def __init__(
        self,
        establishment: Establishment,
        today: datetime.date,
        *,
        actor: User | authz.Operator | None = None,
        dry_run: bool = False,
    ) -> None:
        self.establishment = establishment
        self.today = today
        self.actor = actor
        self.dry_run = dry_run
        self.year = school_year_of(today)
        self.divisions: dict[str, int] = dict(
            Division.objects.filter(establishment=establishment, school_year=self.year)
            .order_by()
            .values_list("code", "pk")
        )
        self.mefs: dict[str, Mef] = {}
        self.crowded: dict[str, int] = {}  # identifier prefixes found full (generate_many)

    def division_id(self, code: str) -> int | None:
        if not code:
            return None
        if code not in self.divisions:
            self.divisions[code] = Division.objects.create(
                establishment=self.establishment, code=code[:30], school_year=self.year
            ).pk
        return self.divisions[code]

    def mef(self, code: str, label: str) -> Mef | None:
        """The MEF of ``code``, created with the file's label if unknown. MEFs are shared
        by every establishment: an import never renames one (the academy does,
        ``educompte mef-labels``)."""
        if not code:
            return None
        mef = self.mefs.get(code)
        if mef is None:
            mef, _created = Mef.objects.get_or_create(
                code=code[:11], defaults={"label": (label or code)[:100]}
            )
            self.mefs[code] = mef
        return mef


def _new_identifiers(ctx: _Context, records: list[PupilRecord]) -> list[str]:
    """Free identifiers for a batch: a few database queries per batch, even when the
    prefixes are crowded (identifiers.generate_many)."""
    table = connection.ops.quote_name(User._meta.db_table)

    def taken(candidates: set[str]) -> set[str]:
        names = sorted(candidates)
        if connection.vendor == "postgresql":  # one array parameter, not thousands
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT username FROM {table} WHERE username = ANY(%s)",  # noqa: S608
                    [names],
                )
                return {row[0] for row in cursor.fetchall()}
        found: set[str] = set()
        for start in range(0, len(names), 2000):
            found.update(
                User.objects.filter(username__in=names[start : start + 2000]).values_list(
                    "username", flat=True
                )
            )
        return found

    return identifiers.generate_many(
        [(r.first_name, r.last_name) for r in records], taken, crowded=ctx.crowded
    )


def _create(ctx: _Context, records: list[PupilRecord], report: ImportReport) -> list[int]:
    """New pupils with their logins and accounts "Non activé - non informé" (three bulk
    inserts: COPY on PostgreSQL, see lifecycle.create_many)."""
    names = _new_identifiers(ctx, records)
    pupils = []
    for name, rec in zip(names, records, strict=True):
        mef = ctx.mef(rec.mef_code, rec.mef_label)
        pupils.append(
            lifecycle.NewPupil(
                username=name,
                establishment_id=ctx.establishment.pk,
                first_name=rec.first_name,
                last_name=rec.last_name,
                birth_date=rec.birth_date,
                registry_id=rec.registry_id,
                ine=rec.ine,
                division_id=ctx.division_id(rec.division_code),
                mef_id=mef.pk if mef else None,
                left_on=rec.left_on,
            )
        )
    created = lifecycle.create_many(pupils)
    for rec in records:
        report.sample("created", f"{rec.last_name} {rec.first_name} ({rec.division_code or '—'})")
    report.created += len(records)
    return [c.student_id for c in created]


def _has_departed(student: Student, today: datetime.date) -> bool:
    """Marked as gone by its establishment (leaving date reached, account deactivated)."""
    account = getattr(student, "account", None)
    if account is None or account.state != AccountState.DEACTIVATED:
        return False
    return student.left_on is not None and student.left_on <= today


def _file_label(rec: PupilRecord) -> str:
    return f"{rec.last_name} {rec.first_name} ({rec.division_code or '—'})"


def _apply_batch(
    ctx: _Context, batch: list[PupilRecord], report: ImportReport, seen: DiskSet
) -> None:
    ines = [r.ine for r in batch if r.ine]
    if ines and ctx.dry_run:
        # The preview must read the same whether or not these INEs belong to pupils of
        # other establishments: hide them (the dry run's transaction is rolled back).
        Student.objects.filter(ine__in=ines).exclude(establishment=ctx.establishment).update(
            ine=None
        )
    by_ine = (
        {
            s.ine: s
            for s in Student.objects.filter(ine__in=ines).select_related(
                "account", "account__user", "division", "mef", "establishment"
            )
        }
        if ines
        else {}
    )
    by_id = {
        s.registry_id: s
        for s in Student.objects.filter(
            establishment=ctx.establishment, registry_id__in=[r.registry_id for r in batch]
        ).select_related("account", "account__user", "division", "mef")
    }
    new: list[PupilRecord] = []
    changed: list[Student] = []
    to_deactivate: list[StudentAccount] = []
    renamed: list[User] = []
    to_request: list[tuple[Student, PupilRecord]] = []
    arrivals: list[tuple[Establishment, StudentAccount]] = []
    for rec in batch:
        has_left = rec.left_on is not None and rec.left_on <= ctx.today
        student = by_ine.get(rec.ine) if rec.ine else None
        if student is not None and student.establishment_id != ctx.establishment.pk:
            # Known in another establishment. Only a leaver (and the file agrees on the
            # date of birth) moves here; a current pupil is asked for, never taken.
            if (
                not has_left
                and _has_departed(student, ctx.today)
                and (student.birth_date == rec.birth_date)
            ):
                arrivals.append((student.establishment, student.account))
            else:
                local = by_id.get(rec.registry_id)
                if local is not None:
                    seen.add(local.pk)  # the file lists this registry id: not a leaver
                if has_left:
                    report.unchanged += 1
                else:
                    to_request.append((student, rec))
                continue
        student = student or by_id.get(rec.registry_id)
        if student is None:
            if has_left:
                report.unchanged += 1  # left before ever having an account here
            else:
                new.append(rec)
            continue
        seen.add(student.pk)
        account = student.account
        label = f"{rec.last_name} {rec.first_name}"
        mef = ctx.mef(rec.mef_code, rec.mef_label)
        wanted = {
            "establishment_id": ctx.establishment.pk,
            "registry_id": rec.registry_id[:32],
            "ine": rec.ine or student.ine,
            "last_name": rec.last_name[:100],
            "first_name": rec.first_name[:100],
            "birth_date": rec.birth_date,
            "division_id": ctx.division_id(rec.division_code),
            "mef_id": mef.pk if mef else None,
            "left_on": rec.left_on,
        }
        diff = {k: v for k, v in wanted.items() if getattr(student, k) != v}
        diff_left_on = student.left_on  # the leaving date the file no longer gives
        for key, value in diff.items():
            setattr(student, key, value)
        if diff:
            student.search_name = normalize(f"{student.last_name} {student.first_name}")
            changed.append(student)
        if "last_name" in diff or "first_name" in diff:
            # The login carries the names too (header, password similarity rule).
            account.user.first_name = student.first_name[:150]
            account.user.last_name = student.last_name[:150]
            renamed.append(account.user)
        if has_left and lifecycle.allowed(lifecycle.Event.DEACTIVATION, account.state):
            to_deactivate.append(account)
            report.deactivated += 1
            report.sample("deactivated", label)
        elif (
            not has_left
            and "left_on" in diff
            and lifecycle.allowed(lifecycle.Event.REGISTRY_REENTRY, account.state)
        ):
            report.updated += 1
            report.sample("updated", label)
            if account.deactivated_by_staff:
                # A person deactivated it, with a reason: the file does not overrule them.
                report.kept_deactivated += 1
                report.sample("kept_deactivated", label)
            else:
                # Back in the registry after having left: fresh credentials.
                left_on = diff_left_on.strftime("%d/%m/%Y") if diff_left_on else "—"
                lifecycle.reenter(account)
                report.reactivated += 1
                report.sample("reactivated", f"{label} — {left_on}")
        elif diff:
            report.updated += 1
            report.sample("updated", label)
        else:
            report.unchanged += 1
    if changed:
        Student.objects.bulk_update(
            changed,
            [
                "establishment",
                "registry_id",
                "ine",
                "last_name",
                "first_name",
                "birth_date",
                "division",
                "mef",
                "left_on",
                "search_name",
            ],
        )
    if renamed:
        User.objects.bulk_update(renamed, ["first_name", "last_name"])
    lifecycle.deactivate(to_deactivate)
    if arrivals:
        transfers.record_arrivals(ctx.establishment, arrivals, actor=ctx.actor)
    if to_request:
        _request_transfers(ctx, to_request, report)
    if new:
        _flag_homonyms(ctx, new, report)
        seen.update(_create(ctx, new, report))


def _flag_homonyms(ctx: _Context, records: list[PupilRecord], report: ImportReport) -> None:
    """New pupils whose name and class match a pupil already in the establishment, or
    another new pupil of the same batch."""
    keys = [
        (normalize(f"{r.last_name[:100]} {r.first_name[:100]}"), r.division_code or None)
        for r in records
    ]
    existing = set(
        Student.objects.filter(
            establishment=ctx.establishment, search_name__in={name for name, _code in keys}
        )
        .exclude(account__state=AccountState.DEACTIVATED)
        .values_list("search_name", "division__code")
    )
    in_file = collections.Counter(keys)
    for key, rec in zip(keys, records, strict=True):
        if key in existing or in_file[key] > 1:
            report.homonyms += 1
            report.sample("homonym", _file_label(rec))


def _request_transfers(
    ctx: _Context, pairs: list[tuple[Student, PupilRecord]], report: ImportReport
) -> None:
    """One pending request per pupil and requesting establishment: a re-import finds it
    (or the refusal) instead of asking again."""
    states: dict[int, str] = {}
    for student_id, state in TransferRequest.objects.filter(
        student_id__in=[s.pk for s, _rec in pairs],
        to_establishment=ctx.establishment,
        state__in=[TransferRequest.State.PENDING, TransferRequest.State.REFUSED],
    ).values_list("student_id", "state"):
        if states.get(student_id) != TransferRequest.State.PENDING:
            states[student_id] = state
    for student, rec in pairs:
        label = _file_label(rec)
        state = states.get(student.pk)
        if state == TransferRequest.State.REFUSED:
            report.transfers_refused += 1
            report.sample("transfer_refused", label)
            continue
        if state is None:
            transfers.request(
                student,
                ctx.establishment,
                actor=ctx.actor,
                registry_id=rec.registry_id[:32],
                division_code=rec.division_code[:30],
                label=label[:250],
            )
            states[student.pk] = TransferRequest.State.PENDING  # the same INE twice
        report.transfers += 1
        report.sample("transfer", label)


def _deactivate_absent(
    ctx: _Context, seen: DiskSet, absent: DiskSequence, report: ImportReport
) -> None:
    """A complete export lists every pupil: the others have left. ``absent`` (empty, on
    disk) collects them first: the accounts are not changed while the query reads them."""
    present = (
        StudentAccount.objects.filter(student__establishment=ctx.establishment)
        .exclude(state=AccountState.DEACTIVATED)
        .values_list("student_id", flat=True)
    )
    for pk in present.iterator(chunk_size=5000):
        if pk not in seen:
            absent.append(pk)
    for chunk in absent.chunks(BATCH):
        students = list(Student.objects.filter(pk__in=chunk).select_related("account__user"))
        for student in students:
            student.left_on = ctx.today
            report.sample("deactivated", f"{student.last_name} {student.first_name}")
        Student.objects.bulk_update(students, ["left_on"])
        lifecycle.deactivate([s.account for s in students])
        report.deactivated += len(students)


class _Rollback(Exception):
    pass


def run_import(
    actor: User | authz.Operator | None,
    establishment: Establishment,
    source: RegistrySource,
    *,
    complete: bool = True,
    dry_run: bool = False,
    allow_deactivations: int | None = None,
    today: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate then apply a registry file. Raises ``BadFile`` (nothing written) on any
    problem. ``actor`` needs administration on the establishment; the command line
    passes ``authz.OPERATOR``.

    A mass deactivation (``ImportReport.mass_deactivation``) is applied only when
    ``allow_deactivations`` is at least its count; otherwise ``MassDeactivation`` is
    raised and nothing is written. A dry run reports it without raising."""
    authz.authorize(actor, Right.ADMINISTRATION, establishment)
    # The source and the scratch database keep, on disk, what grows with the number of
    # pupils: the import's memory stays the same for 2 000 or 200 000 pupils.
    scratch = Scratch()
    try:
        return _validate_and_apply(
            establishment,
            source,
            scratch,
            actor,
            complete,
            dry_run,
            allow_deactivations,
            today,
            progress,
        )
    finally:
        source.close()
        scratch.close()


def _validate_and_apply(
    establishment: Establishment,
    source: RegistrySource,
    scratch: Scratch,
    actor: User | authz.Operator | None,
    complete: bool,
    dry_run: bool,
    allow_deactivations: int | None,
    today: datetime.date | None,
    progress: Callable[[int, int], None] | None,
) -> ImportReport:
    total = source.validate(establishment.uai)
    report = ImportReport(total=total, dry_run=dry_run)
    today = today or timezone.localdate()
    seen = scratch.set("INTEGER")  # ids of the students listed by the file
    done = 0
    try:
        with transaction.atomic():
            ctx = _Context(establishment, today, actor=actor, dry_run=dry_run)
            report.live_before = (
                StudentAccount.objects.filter(student__establishment=establishment)
                .exclude(state=AccountState.DEACTIVATED)
                .count()
            )
            report.deactivation_limit = mass_deactivation_limit(report.live_before)
            for batch in _batches(source.records(), BATCH):
                _apply_batch(ctx, batch, report, seen)
                done += len(batch)
                if progress:
                    progress(done, total)
            if complete:
                _deactivate_absent(ctx, seen, scratch.sequence(), report)
            if dry_run:
                raise _Rollback
            if report.mass_deactivation and (allow_deactivations or 0) < report.deactivated:
                raise MassDeactivation(report.deactivated, allow_deactivations)
            record(
                AuditEvent.Action.REGISTRY_IMPORT,
                actor=actor,
                establishment=establishment,
                source=source.kind,
                created=report.created,
                updated=report.updated,
                deactivated=report.deactivated,
                unchanged=report.unchanged,
                transfers=report.transfers,
            )
    except _Rollback:
        pass
    return report


@transaction.atomic
def purge_departed(retention_days: int, *, today: datetime.date | None = None) -> int:
    """Erase the personal data of pupils deactivated more than ``retention_days`` ago.

    The audit trail keeps the identifier only (``subject_label``)."""
    today = today or timezone.localdate()
    cutoff = today - datetime.timedelta(days=retention_days)
    students = Student.objects.filter(left_on__lt=cutoff, account__state=AccountState.DEACTIVATED)
    user_ids = list(students.values_list("account__user_id", flat=True))
    count = len(user_ids)
    for start in range(0, count, BATCH):
        User.objects.filter(pk__in=user_ids[start : start + BATCH]).delete()
    Student.objects.filter(left_on__lt=cutoff, account__isnull=True).delete()
    return count
