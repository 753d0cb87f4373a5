"""Administration des comptes, tab "Import": upload, preview, confirmation, progress, report."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from dsfr.forms import DsfrBaseForm

from educompte.accounts import authz
from educompte.accounts.models import Right
from educompte.registry import jobs
from educompte.registry.models import ImportJob
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right

MAX_UPLOAD = 200 * 1024 * 1024


class ImportForm(DsfrBaseForm):
    file = forms.FileField(
        label=gettext_lazy("Fichier de la base élèves"),
        help_text=gettext_lazy(
            "Export SIECLE « ElevesSansAdresses.xml » ou fichier CSV au format Educompte "
            "(voir la documentation)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.csv,.txt"}),
    )
    nomenclature = forms.FileField(
        label=gettext_lazy("Nomenclature SIECLE (facultatif)"),
        help_text=gettext_lazy("Export « Nomenclature.xml », pour les libellés des MEF."),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".xml"}),
    )
    complete = forms.BooleanField(
        label=gettext_lazy("Export complet : les élèves absents du fichier seront désactivés"),
        required=False,
        initial=True,
    )

    def clean(self) -> dict:
        data = super().clean()
        for name in ("file", "nomenclature"):
            upload = data.get(name)
            if upload is not None and upload.size > MAX_UPLOAD:
                self.add_error(name, _("Fichier trop volumineux (200 Mo au plus)."))
        upload = data.get("file")
        if upload is not None and not upload.name.lower().endswith((".xml", ".csv", ".txt")):
            self.add_error(
                "file", _("Format non reconnu : un fichier .xml (SIECLE) ou .csv est attendu.")
            )
        return data


def _ctx(request, establishment, **extra) -> dict:
    return {
        "establishment": establishment,
        "tab": "import",
        "is_head": authz.is_head(request.user, establishment),
        **extra,
    }


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
        _ctx(request, establishment, form=form, history=history),
        status=400 if form.errors else 200,
    )


def _job(establishment: Establishment, job_id) -> ImportJob:
    return get_object_or_404(ImportJob, pk=job_id, establishment=establishment)


@establishment_right(Right.ADMINISTRATION)
def job_detail(request: HttpRequest, establishment: Establishment, job_id) -> HttpResponse:
    job = _job(establishment, job_id)
    job.processed = jobs.current_progress(job)
    return render(
        request,
        "administration/import_job.html",
        _ctx(
            request,
            establishment,
            job=job,
            refresh=job.status == ImportJob.Status.RUNNING,
        ),
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def job_confirm(request: HttpRequest, establishment: Establishment, job_id) -> HttpResponse:
    job = _job(establishment, job_id)
    if request.POST.get("cancel"):
        jobs.cancel(request.user, job)
        messages.info(request, _("Import annulé : aucune donnée n'a été modifiée."))
        return redirect("administration:import", establishment.uai)
    jobs.confirm(request.user, job)
    return redirect("administration:import_job", establishment.uai, job.pk)
