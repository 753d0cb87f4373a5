"""Administration des comptes, tab "Import": upload, preview, confirmation, progress, report."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts.models import Right
from educompte.registry import jobs
from educompte.registry.models import ImportJob
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.forms import ImportForm


@establishment_right(Right.ADMINISTRATION)
def upload(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = jobs.start(
            request.user,
            establishment,
            form.cleaned_data["file"],
            form.cleaned_data.get("nomenclature"),
            complete=form.cleaned_data["complete"],
        )
        return redirect("administration:import_job", establishment.uai, job.pk)
    history = ImportJob.objects.filter(establishment=establishment)[:10]
    return render(
        request,
        "administration/import.html",
        console_context(request, establishment, "import", form=form, history=history),
        status=400 if form.errors else 200,
    )


def _job(establishment: Establishment, job_id) -> ImportJob:
    return get_object_or_404(ImportJob, pk=job_id, establishment=establishment)


def _job_page(
    request: HttpRequest, establishment: Establishment, job: ImportJob, count_error: str = ""
) -> HttpResponse:
    job.processed = jobs.current_progress(job)
    return render(
        request,
        "administration/import_job.html",
        console_context(
            request,
            establishment,
            "import",
            job=job,
            refresh=job.status == ImportJob.Status.RUNNING,
            count_error=count_error,
        ),
        status=400 if count_error else 200,
    )


@establishment_right(Right.ADMINISTRATION)
def job_detail(request: HttpRequest, establishment: Establishment, job_id) -> HttpResponse:
    return _job_page(request, establishment, _job(establishment, job_id))


def _typed_count(value: str | None) -> int | None:
    text = "".join((value or "").split())  # « 1 250 » as well as « 1250 »
    return int(text) if text.isdigit() and len(text) < 10 else None


@require_POST
@establishment_right(Right.ADMINISTRATION)
def job_confirm(request: HttpRequest, establishment: Establishment, job_id) -> HttpResponse:
    job = _job(establishment, job_id)
    if request.POST.get("cancel"):
        jobs.cancel(request.user, job)
        messages.info(request, _("Import annulé : aucune donnée n'a été modifiée."))
        return redirect("administration:import", establishment.uai)
    if request.POST.get("as_complete"):
        jobs.preview_as_complete(request.user, job)
        return redirect("administration:import_job", establishment.uai, job.pk)
    try:
        jobs.confirm(
            request.user, job, deactivations=_typed_count(request.POST.get("deactivations"))
        )
    except jobs.ConfirmationNeeded as exc:
        error = _(
            "Saisissez le nombre de comptes que l'import va désactiver (%(n)s) pour confirmer."
        ) % {"n": exc.expected}
        return _job_page(request, establishment, job, count_error=error)
    return redirect("administration:import_job", establishment.uai, job.pk)
