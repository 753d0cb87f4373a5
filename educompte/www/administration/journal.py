"""Administration des comptes, tab "Journal": the audit log of the establishment, and its
export."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts.models import Right
from educompte.audit import selectors as audit_selectors
from educompte.audit.models import AuditEvent
from educompte.audit.sentences import sentences
from educompte.audit.services import record
from educompte.core.net import client_ip
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration import downloads
from educompte.www.administration.console import console_context
from educompte.www.administration.forms import AuditFilterForm
from educompte.www.nav import with_query


def _audit_filters(
    request: HttpRequest, establishment: Establishment, data
) -> tuple[AuditFilterForm, audit_selectors.AuditFilters]:
    """The filters that validated. An invalid one is reported on the form and never widens
    the selection to the whole journal: the caller refuses to export then. The action
    list offers the actions found in this establishment's journal."""
    actions = audit_selectors.actions_of(request.user, establishment)
    form = AuditFilterForm(data or None, actions=actions)
    filters = audit_selectors.AuditFilters()
    if form.is_bound:
        form.is_valid()
        valid = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
        filters = audit_selectors.AuditFilters(**valid)
    return form, filters


@establishment_right(Right.ADMINISTRATION)
def journal(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form, filters = _audit_filters(request, establishment, request.GET)
    events = audit_selectors.events_of(request.user, establishment, filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "administration/journal.html",
        console_context(
            request,
            establishment,
            "journal",
            form=form,
            page=page,
            rows=list(zip(shown, sentences(shown), strict=True)),
            querystring=query.urlencode(),
        ),
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def journal_csv(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """POST: the export itself is audited, and GET never writes."""
    form, filters = _audit_filters(request, establishment, request.POST)
    if form.errors:
        messages.error(request, _("Filtres invalides : corrigez-les avant d'exporter le journal."))
        query = request.POST.copy()
        query.pop("csrfmiddlewaretoken", None)
        return redirect(
            with_query(
                reverse("administration:journal", args=[establishment.uai]), query.urlencode()
            )
        )
    events = audit_selectors.events_of(request.user, establishment, filters)
    body = audit_selectors.export_csv(events)
    record(
        AuditEvent.Action.AUDIT_EXPORTED,
        actor=request.user,
        establishment=establishment,
        ip=client_ip(request),
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    return downloads.attachment(response, f"journal-{establishment.uai}-{downloads.stamp()}.csv")
