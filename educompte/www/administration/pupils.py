"""Administration des comptes, tab "Élèves": the pupils' table, lifecycle actions on a
selection (unlock, deactivate, reactivate, forced change, letters) and forced password
changes for a class or the whole establishment."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from educompte.accounts.models import Right
from educompte.core.net import client_ip
from educompte.pupils import selectors, services
from educompte.schools.models import Division, Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context
from educompte.www.administration.downloads import LETTER_ACTIONS, letters_response
from educompte.www.administration.forms import ReasonForm
from educompte.www.nav import back_to, recall_batch, remember_batch
from educompte.www.params import posted_id, selected_ids
from educompte.www.pupil_search import PupilSearchForm, search_filters
from educompte.www.pupil_table import ADMINISTRATION, PupilRow, hidden_ids, pupil_rows

_BATCHES = "educompte.forced_batches"
ACTIONS = {
    "unlock": gettext_lazy("Débloquer"),
    "deactivate": gettext_lazy("Désactiver"),
    "reactivate": gettext_lazy("Réactiver"),
    "force": gettext_lazy("Imposer un nouveau mot de passe"),
}


@establishment_right(Right.ADMINISTRATION)
def home(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    return redirect("administration:pupils", establishment.uai)


@establishment_right(Right.ADMINISTRATION)
def pupils(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    mefs, divisions = selectors.filter_choices(request.user, establishment, Right.ADMINISTRATION)
    form = PupilSearchForm(request.GET or None, mefs=mefs, divisions=divisions)
    filters = search_filters(form)
    qs = selectors.search_pupils(request.user, establishment, filters, Right.ADMINISTRATION)
    page = Paginator(qs, settings.EDUCOMPTE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    querystring = query.urlencode()
    now = timezone.now()
    rows = [PupilRow.of(s, now, password=False) for s in page.object_list]
    return render(
        request,
        "administration/pupils.html",
        console_context(
            request,
            establishment,
            "pupils",
            form=form,
            page=page,
            rows=rows,
            rows_html=pupil_rows(rows, ADMINISTRATION, establishment.uai, querystring),
            page_ids=hidden_ids(rows),
            divisions=divisions,
            actions={**ACTIONS, **LETTER_ACTIONS},
            querystring=querystring,
        ),
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def account_action(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """Selection actions. First POST shows a confirmation; the second (confirm=1) acts."""
    action = request.POST.get("action", "")
    back = request.POST.get("back", "")
    back_url = back_to("administration:pupils", establishment.uai, back)
    if action in LETTER_ACTIONS:
        ids = selected_ids(request, limit=5000)
        if not ids:
            messages.warning(request, _("Sélectionnez au moins un élève."))
            return redirect(back_url)
        return letters_response(request, establishment, kind=action, account_ids=ids)
    if action not in ACTIONS:
        messages.error(request, _("Choisissez une action."))
        return redirect(back_url)
    ids = selected_ids(request, limit=5000)
    if not ids:
        messages.warning(request, _("Sélectionnez au moins un élève."))
        return redirect(back_url)
    accounts = selectors.get_accounts(request.user, establishment, ids, Right.ADMINISTRATION)
    form = ReasonForm(request.POST if request.POST.get("confirm") == "1" else None)
    if request.POST.get("confirm") == "1" and form.is_valid():
        reason = form.cleaned_data["reason"]
        ip = client_ip(request)
        try:
            if action == "unlock":
                n = services.unlock(request.user, establishment, ids, ip=ip)
                messages.success(request, _("%(n)s compte(s) débloqué(s).") % {"n": n})
            elif action == "deactivate":
                n = services.deactivate(request.user, establishment, ids, reason=reason, ip=ip)
                messages.success(request, _("%(n)s compte(s) désactivé(s).") % {"n": n})
            elif action == "reactivate":
                n = services.reactivate(request.user, establishment, ids, reason=reason, ip=ip)
                messages.success(
                    request,
                    _("%(n)s compte(s) réactivé(s) avec un nouveau mot de passe provisoire.")
                    % {"n": n},
                )
            else:
                done = services.force_password_change(
                    request.user, establishment, account_ids=ids, ip=ip
                )
                return _forced_result_redirect(request, establishment, done)
        except ValidationError as exc:
            for error in exc.message_dict.get("reason", exc.messages):
                form.add_error("reason", error)
        else:
            return redirect(back_url)
    return render(
        request,
        "administration/action_confirm.html",
        console_context(
            request,
            establishment,
            "pupils",
            action=action,
            action_label=ACTIONS[action],
            accounts=accounts,
            back=back,
            back_url=back_url,
            form=form,
            needs_reason=action in ("deactivate", "reactivate"),
        ),
        status=400 if form.errors else 200,
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def forced_change(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """New provisional passwords for a class or the whole establishment."""
    scope = request.POST.get("scope", "")
    division = None
    if scope == "division":
        division = get_object_or_404(
            Division, pk=posted_id(request.POST.get("division")), establishment=establishment
        )
    elif scope != "establishment":
        messages.error(request, _("Choisissez une classe ou tout l'établissement."))
        return redirect("administration:pupils", establishment.uai)
    if request.POST.get("confirm") != "1":
        count = selectors.count_active_accounts(
            request.user, establishment, division=division, right=Right.ADMINISTRATION
        )
        return render(
            request,
            "administration/forced_confirm.html",
            console_context(
                request,
                establishment,
                "pupils",
                scope=scope,
                division=division,
                count=count,
            ),
        )
    done = services.force_password_change(
        request.user,
        establishment,
        division=division,
        whole_establishment=scope == "establishment",
        ip=client_ip(request),
    )
    return _forced_result_redirect(request, establishment, done)


def _forced_result_redirect(
    request: HttpRequest, establishment: Establishment, accounts: list
) -> HttpResponse:
    token = remember_batch(request, _BATCHES, [a.pk for a in accounts])
    messages.success(
        request,
        _("%(n)s mot(s) de passe changé(s) ; les sessions ouvertes de ces élèves sont fermées.")
        % {"n": len(accounts)},
    )
    return redirect("administration:forced_result", establishment.uai, token)


@establishment_right(Right.ADMINISTRATION)
def forced_result(request: HttpRequest, establishment: Establishment, token: str) -> HttpResponse:
    ids = recall_batch(request, _BATCHES, token)
    if ids is None:
        raise Http404
    accounts = selectors.get_accounts(request.user, establishment, ids, Right.ADMINISTRATION)
    rows = [{"account": a, "password": services.provisional_password(a)} for a in accounts]
    return render(
        request,
        "depannage/bulk_result.html",
        {
            "establishment": establishment,
            "rows": rows,
            "skipped": [],
            "back_url": reverse("administration:pupils", args=[establishment.uai]),
            "app_label": _("Administration des comptes"),
        },
    )
