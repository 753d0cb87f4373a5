"""Dépannage des comptes élèves: search pupils, read provisional passwords, reset them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from educompte.accounts.models import Right
from educompte.core.net import client_ip
from educompte.pupils import recovery, selectors, services
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.nav import back_to, recall_batch, remember_batch
from educompte.www.params import selected_ids
from educompte.www.pupil_search import PupilSearchForm, search_filters
from educompte.www.pupil_table import DEPANNAGE, PupilRow, hidden_ids, pupil_rows

_JUST_RESET = "educompte.just_reset"
_BATCHES = "educompte.reset_batches"


def _banner(request: HttpRequest, establishment: Establishment) -> dict | None:
    """The reset banner of the seed: identifier and new password, shown once."""
    just_reset = request.session.pop(_JUST_RESET, None)
    if not just_reset:
        return None
    try:
        account = selectors.get_account(request.user, establishment, just_reset)
    except Http404:
        return None
    return {
        "identifier": account.identifier,
        "password": services.provisional_password(account),
        "name": account.student.full_name,
        # Homonyms are told apart by class and date of birth.
        "born": _("%(division)s, naissance : %(date)s")
        % {
            "division": account.student.division.code if account.student.division else "—",
            "date": f"{account.student.birth_date:%d/%m/%Y}",
        },
    }


def limit_message(exc: services.ResetLimitReached) -> str:
    return _(
        "Limite atteinte : vous pouvez réinitialiser au plus %(limit)s mots de passe par "
        "jour (il vous en reste %(remaining)s aujourd'hui). Cette limite protège les "
        "comptes en cas de vol de votre session ; votre chef d'établissement peut imposer un "
        "changement de mot de passe à toute une classe depuis l'administration des comptes."
    ) % {"limit": exc.limit, "remaining": exc.remaining}


@establishment_right(Right.DEPANNAGE)
def home(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    return redirect("depannage:pupils", establishment.uai)


@establishment_right(Right.DEPANNAGE)
def pupils(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    mefs, divisions = selectors.filter_choices(request.user, establishment)
    form = PupilSearchForm(request.GET or None, mefs=mefs, divisions=divisions)
    filters = search_filters(form)
    qs = selectors.search_pupils(request.user, establishment, filters)
    page = Paginator(qs, settings.EDUCOMPTE_PAGE_SIZE).get_page(request.GET.get("page"))
    students = list(page.object_list)
    now = timezone.now()
    rows = [PupilRow.of(s, now, password=True) for s in students]

    banner = _banner(request, establishment)
    query = request.GET.copy()
    query.pop("page", None)
    querystring = query.urlencode()
    sort_links = {}
    for key in ("nom", "classe"):
        q = query.copy()
        q["tri"] = f"-{key}" if filters.sort == key else key
        sort_links[key] = q.urlencode()
    return render(
        request,
        "depannage/pupils.html",
        {
            "establishment": establishment,
            "form": form,
            "page": page,
            "rows": rows,
            "rows_html": pupil_rows(rows, DEPANNAGE, establishment.uai, querystring),
            "page_ids": hidden_ids(rows),
            "blocked_rows": [r for r in rows if r.blocked_until],
            "banner": banner,
            "request_count": recovery.open_request_count(establishment.pk),
            "sort": filters.sort,
            "sort_links": sort_links,
            "querystring": querystring,
        },
    )


@establishment_right(Right.DEPANNAGE)
def reset(request: HttpRequest, establishment: Establishment, account_id: int) -> HttpResponse:
    """GET: the confirmation page (used without JavaScript). POST: reset."""
    account = selectors.get_account(request.user, establishment, account_id)
    back = request.POST.get("back") or request.GET.get("back") or ""
    back_url = back_to("depannage:pupils", establishment.uai, back)
    if request.method == "POST":
        try:
            services.reset_password(request.user, account, ip=client_ip(request))
        except services.AccountDeactivated:
            messages.error(
                request,
                _("Ce compte est désactivé : son mot de passe ne peut pas être réinitialisé."),
            )
            return redirect(back_url)
        except services.ResetLimitReached as exc:
            messages.error(request, limit_message(exc))
            return redirect(back_url)
        request.session[_JUST_RESET] = account.pk
        return redirect(back_url)
    return render(
        request,
        "depannage/reset_confirm.html",
        {
            "establishment": establishment,
            "accounts": [account],
            "back": back,
            "back_url": back_url,
            "action": reverse("depannage:reset", args=[establishment.uai, account.pk]),
        },
    )


@require_POST
@establishment_right(Right.DEPANNAGE)
def bulk_reset(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """First POST (from the table) asks for confirmation; the second one resets."""
    back = request.POST.get("back", "")
    back_url = back_to("depannage:pupils", establishment.uai, back)
    ids = selected_ids(request, limit=1000)
    if not ids:
        messages.warning(request, _("Sélectionnez au moins un élève."))
        return redirect(back_url)
    if request.POST.get("confirm") != "1":
        accounts = selectors.get_accounts(request.user, establishment, ids)
        return render(
            request,
            "depannage/reset_confirm.html",
            {
                "establishment": establishment,
                "accounts": accounts,
                "back": back,
                "back_url": back_url,
                "action": reverse("depannage:bulk_reset", args=[establishment.uai]),
                "bulk": True,
            },
        )
    try:
        result = services.reset_passwords(request.user, establishment, ids, ip=client_ip(request))
    except services.ResetLimitReached as exc:
        messages.error(request, limit_message(exc))
        return redirect(back_url)
    token = remember_batch(
        request,
        _BATCHES,
        {"reset": [a.pk for a, _p in result.reset], "skipped": [a.pk for a in result.skipped]},
    )
    return redirect("depannage:bulk_result", establishment.uai, token)


@establishment_right(Right.DEPANNAGE)
def bulk_result(request: HttpRequest, establishment: Establishment, token: str) -> HttpResponse:
    batch = recall_batch(request, _BATCHES, token)
    if batch is None:
        raise Http404
    accounts = selectors.get_accounts(request.user, establishment, batch["reset"])
    skipped = selectors.get_accounts(request.user, establishment, batch["skipped"])
    rows = [{"account": a, "password": services.provisional_password(a)} for a in accounts]
    return render(
        request,
        "depannage/bulk_result.html",
        {
            "establishment": establishment,
            "rows": rows,
            "skipped": skipped,
        },
    )


@require_POST
@establishment_right(Right.DEPANNAGE)
def unlock(request: HttpRequest, establishment: Establishment, account_id: int) -> HttpResponse:
    account = selectors.get_account(request.user, establishment, account_id)
    if services.unlock(request.user, establishment, [account.pk], ip=client_ip(request)):
        messages.success(
            request,
            _("Le compte de %(name)s est débloqué : l'élève peut se connecter de nouveau.")
            % {"name": account.student.full_name},
        )
    return redirect(back_to("depannage:pupils", establishment.uai, request.POST.get("back", "")))


@establishment_right(Right.DEPANNAGE)
def requests_list(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """Demandes: pupils without a confirmed e-mail who asked the school for a password."""
    pending = recovery.open_requests(request.user, establishment)
    return render(
        request,
        "depannage/requests.html",
        {
            "establishment": establishment,
            "requests": pending,
            "tab": "requests",
            "banner": _banner(request, establishment),
            "request_count": len(pending),
        },
    )


@require_POST
@establishment_right(Right.DEPANNAGE)
def handle_request(
    request: HttpRequest, establishment: Establishment, request_id: int
) -> HttpResponse:
    """Reset the pupil's password and close the request, or close it without follow-up."""
    ip = client_ip(request)
    try:
        support = recovery.open_requests(request.user, establishment)
        req = next(r for r in support if r.pk == request_id)
    except StopIteration as exc:
        raise Http404 from exc
    if request.POST.get("outcome") == "dismiss":
        recovery.close_request(request.user, establishment, req.pk, handled=False, ip=ip)
        messages.info(request, _("Demande close sans suite."))
        return redirect("depannage:requests", establishment.uai)
    try:
        services.reset_password(request.user, req.account, ip=ip)
    except services.AccountDeactivated:
        messages.error(request, _("Ce compte est désactivé : la demande ne peut pas être traitée."))
        return redirect("depannage:requests", establishment.uai)
    except services.ResetLimitReached as exc:
        messages.error(request, limit_message(exc))
        return redirect("depannage:requests", establishment.uai)
    # The reset has closed the request (and any other open one of the pupil).
    request.session[_JUST_RESET] = req.account.pk
    return redirect("depannage:requests", establishment.uai)
