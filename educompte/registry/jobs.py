"""Imports started from the web: stored upload, preview (a dry run), then the real run in a
background thread that reports its progress in the database."""

from __future__ import annotations

import datetime
import logging
import os
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import close_old_connections
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.registry.models import ImportJob
from educompte.registry.parsers import BadFile, open_source, read_nomenclature
from educompte.registry.services import MassDeactivation, run_import
from educompte.schools.models import Establishment

log = logging.getLogger("educompte.registry")


UNEXPECTED = (
    "erreur inattendue : aucune donnée n'a été modifiée ; réessayez ou contactez l'assistance"
)
MORE_DEACTIVATIONS = (
    "le fichier désactiverait plus de comptes que le nombre confirmé : aucune donnée n'a été "
    "modifiée ; recommencez l'import pour voir le nouvel aperçu"
)
# A file listing fewer than this share of the establishment's live accounts is not taken
# for a complete export unless the person says so after seeing the preview.
FAR_FEWER = 0.5


class ConfirmationNeeded(Exception):
    """A mass deactivation is confirmed by typing the number of accounts it deactivates."""

    def __init__(self, expected: int):
        super().__init__(f"type {expected} to confirm")
        self.expected = expected


def far_fewer(listed: int, live: int) -> bool:
    """The file lists far fewer pupils than the establishment has live accounts."""
    return listed < live * FAR_FEWER


def _store(upload: UploadedFile, suffix: str) -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    try:
        # Created private: the file holds personal data from its first byte.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)  # a half-written upload (disk full…) is not left behind
        raise
    return path


def _cleanup(job: ImportJob) -> None:
    for name in (job.stored_path, job.nomenclature_path):
        if name:
            Path(name).unlink(missing_ok=True)
    job.stored_path = job.nomenclature_path = ""


def _source(job: ImportJob):
    labels = read_nomenclature(job.nomenclature_path) if job.nomenclature_path else None
    return open_source(job.stored_path, job.filename, labels)


def start(
    agent: User,
    establishment: Establishment,
    upload: UploadedFile,
    nomenclature: UploadedFile | None,
    *,
    complete: bool,
    insist_complete: bool = False,
) -> ImportJob:
    """Store the files and compute the preview (a dry run: nothing is written).

    A file said to be complete that lists far fewer pupils than the establishment has is
    previewed as partial (``preview["far_fewer"]``) unless ``insist_complete``: the
    preview page lets the person choose complete once they have seen the numbers."""
    authz.authorize(agent, Right.ADMINISTRATION, establishment)
    discard_stale()
    suffix = Path(upload.name).suffix.lower()[:5]
    job = ImportJob(
        establishment=establishment,
        created_by=agent,
        filename=Path(upload.name).name[:255],
        complete=complete,
        status=ImportJob.Status.PREVIEWED,
    )
    try:
        job.stored_path = str(_store(upload, suffix))
        if nomenclature is not None:
            job.nomenclature_path = str(_store(nomenclature, ".xml"))
        report = run_import(agent, establishment, _source(job), complete=complete, dry_run=True)
        fewer = far_fewer(report.total, report.live_before)
        if complete and fewer and not insist_complete:
            job.complete = False
            report = run_import(agent, establishment, _source(job), complete=False, dry_run=True)
    except BadFile as exc:
        _refuse(job, ImportJob.Status.REFUSED, exc)
    except PermissionDenied:
        _cleanup(job)
        raise
    except Exception:
        # Whatever a hostile file triggers: a refusal on the page, never a server error
        # nor its upload left in var/imports/ (the preview is a dry run: nothing written).
        log.exception("import preview of %s failed", establishment.uai)
        _refuse(job, ImportJob.Status.REFUSED, None)
    except BaseException:
        _cleanup(job)
        raise
    else:
        job.total = report.total
        job.preview = report.as_dict() | {"far_fewer": fewer}
    try:
        job.save()
    except BaseException:
        _cleanup(job)  # no job to confirm or cancel it: the files must not stay
        raise
    return job


def _refuse(job: ImportJob, status: str, exc: BadFile | None) -> None:
    """Mark the job refused or failed with the file's problems (or an unexpected error)
    and delete its files."""
    job.status = status
    if exc is None:
        job.problems = [{"ref": "import", "reason": UNEXPECTED}]
        job.problem_count = 1
    else:
        job.problems = [{"ref": p.ref, "reason": p.reason} for p in exc.problems]
        job.problem_count = exc.total
    _cleanup(job)


def preview_as_complete(agent: User, job: ImportJob) -> None:
    """The person says the short file is a complete export after all: preview it again
    as complete (the mass-deactivation guard then applies)."""
    authz.authorize(agent, Right.ADMINISTRATION, job.establishment)
    if job.status != ImportJob.Status.PREVIEWED or job.complete:
        return
    try:
        report = run_import(agent, job.establishment, _source(job), complete=True, dry_run=True)
    except BadFile as exc:  # the stored file cannot have changed; refuse cleanly anyway
        _refuse(job, ImportJob.Status.REFUSED, exc)
    else:
        job.complete = True
        job.preview = report.as_dict() | {"far_fewer": False, "insisted_complete": True}
    job.save()


def confirm(agent: User, job: ImportJob, *, deactivations: int | None = None) -> None:
    """Run the previewed import, in the background unless configured otherwise. A mass
    deactivation runs only if ``deactivations`` is the number the preview showed
    (``ConfirmationNeeded`` otherwise, nothing changed)."""
    authz.authorize(agent, Right.ADMINISTRATION, job.establishment)
    allowed = None
    if job.preview.get("mass_deactivation"):
        expected = job.preview.get("deactivated", 0)
        if deactivations != expected:
            raise ConfirmationNeeded(expected)
        allowed = expected
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEWED).update(
        status=ImportJob.Status.RUNNING, allowed_deactivations=allowed, updated_at=timezone.now()
    )
    if not updated:
        return  # already confirmed (double click) or not previewable
    job.refresh_from_db()
    if settings.EDUCOMPTE_IMPORT_IN_BACKGROUND:
        threading.Thread(target=_run_in_thread, args=(job.pk, agent.pk), daemon=True).start()
    else:
        _run(job, agent)


def cancel(agent: User, job: ImportJob) -> None:
    authz.authorize(agent, Right.ADMINISTRATION, job.establishment)
    if job.status == ImportJob.Status.PREVIEWED:
        _cleanup(job)
        job.status = ImportJob.Status.CANCELLED
        job.save()


def _run_in_thread(job_id: uuid.UUID, agent_id: int) -> None:
    close_old_connections()
    try:
        job = ImportJob.objects.select_related("establishment").get(pk=job_id)
        agent = User.objects.filter(pk=agent_id).first()
        if agent is None:  # the agent was deleted in the meantime
            _refuse(job, ImportJob.Status.FAILED, None)
            job.save()
            return
        _run(job, agent)
    except Exception:
        log.exception("import %s could not run", job_id)
    finally:
        close_old_connections()


def progress_key(job_id: uuid.UUID) -> str:
    return f"educompte:import-progress:{job_id}"


def current_progress(job: ImportJob) -> int:
    """Pupils processed so far. Kept in the shared cache while the import runs: the import's
    own transaction (all or nothing) would hide a progress column until the very end."""
    if job.status == ImportJob.Status.RUNNING:
        return int(cache.get(progress_key(job.pk)) or 0)
    return job.processed


def _run(job: ImportJob, agent: User) -> None:
    def progress(done: int, total: int) -> None:
        cache.set(progress_key(job.pk), done, timeout=6 * 3600)

    try:
        report = run_import(
            agent,
            job.establishment,
            _source(job),
            complete=job.complete,
            allow_deactivations=job.allowed_deactivations,
            progress=progress,
        )
    except BadFile as exc:  # the file changed between preview and run: nothing written
        _refuse(job, ImportJob.Status.FAILED, exc)
    except MassDeactivation:  # the accounts changed since the preview: nothing written
        _refuse(job, ImportJob.Status.FAILED, None)
        job.problems = [{"ref": "import", "reason": MORE_DEACTIVATIONS}]
    except Exception:  # report the failure on the page; the transaction rolled back
        log.exception("import %s failed", job.pk)
        _refuse(job, ImportJob.Status.FAILED, None)
    else:
        job.status = ImportJob.Status.DONE
        job.report = report.as_dict()
        job.processed = job.total = report.total
    finally:
        _cleanup(job)  # even if interrupted: the files hold personal data
    job.save()
    cache.delete(progress_key(job.pk))


def discard_stale(hours: int = 24) -> int:
    """Previews never confirmed nor cancelled, and imports still "running" long after the
    process that ran them must have stopped: drop their uploaded files (personal data)."""
    cutoff = timezone.now() - datetime.timedelta(hours=hours)
    stale = list(
        ImportJob.objects.filter(
            status__in=(ImportJob.Status.PREVIEWED, ImportJob.Status.RUNNING),
            updated_at__lt=cutoff,
        )
    )
    for job in stale:
        if job.status == ImportJob.Status.RUNNING:
            _refuse(job, ImportJob.Status.FAILED, None)
        else:
            _cleanup(job)
            job.status = ImportJob.Status.CANCELLED
        job.save()
    _discard_orphans(cutoff)
    return len(stale)


def _discard_orphans(cutoff: datetime.datetime) -> None:
    """Uploads no job refers to (the process was killed during a preview, before the job
    was saved): deleted once as old as a stale preview."""
    folder = Path(settings.VAR_DIR) / "imports"
    if not folder.is_dir():
        return
    live = ImportJob.objects.filter(
        status__in=(ImportJob.Status.PREVIEWED, ImportJob.Status.RUNNING)
    ).values_list("stored_path", "nomenclature_path")
    kept = {name for pair in live for name in pair if name}
    for path in folder.iterdir():
        if str(path) in kept or not path.is_file():
            continue
        if datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC) < cutoff:
            path.unlink(missing_ok=True)
