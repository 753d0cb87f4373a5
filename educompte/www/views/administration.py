"""Administration des comptes: lifecycle actions, forced password changes, delegations and
the audit log. Every view needs the administration right and a verified second factor."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from educompte.accounts import authz
from educompte.accounts import selectors as account_selectors
from educompte.accounts import services as account_services
from educompte.accounts.models import Delegation, Right
from educompte.audit import selectors as audit_selectors
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.core.links import absolute_reverse
from educompte.core.net import client_ip
from educompte.letters import services as letters
from educompte.pupils import selectors, services
from educompte.pupils.models import AccountState
from educompte.schools.models import Division, Establishment
from educompte.www.access import establishment_right
from educompte.www.forms import AuditFilterForm, DelegationForm, PupilSearchForm, ReasonForm
from educompte.www.views.depannage import search_filters

_BATCHES = "educompte.forced_batches"
ACTIONS = {
    "unlock": gettext_lazy("Débloquer"),
    "deactivate": gettext_lazy("Désactiver"),
    "reactivate": gettext_lazy("Réactiver"),
    "force": gettext_lazy("Imposer un nouveau mot de passe"),
}


def _ctx(request: HttpRequest, establishment: Establishment, tab: str, **extra) -> dict:
    return {
        "establishment": establishment,
        "tab": tab,
        "is_head": authz.is_head(request.user, establishment),
        **extra,
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
    now = timezone.now()
    return render(
        request,
        "administration/pupils.html",
        _ctx(
            request,
            establishment,
            "pupils",
            form=form,
            page=page,
            states=AccountState,
            divisions=divisions,
            actions={**ACTIONS, **LETTER_ACTIONS},
            querystring=query.urlencode(),
            now=now,
            reason_form=ReasonForm(),
        ),
    )


def _ids(request: HttpRequest) -> list[int]:
    key = "page_ids" if request.POST.get("page_entiere") else "comptes"
    return [int(v) for v in request.POST.getlist(key) if v.isdigit()][:5000]


@require_POST
@establishment_right(Right.ADMINISTRATION)
def account_action(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """Selection actions. First POST shows a confirmation; the second (confirm=1) acts."""
    action = request.POST.get("action", "")
    back = request.POST.get("back", "")
    back_url = reverse("administration:pupils", args=[establishment.uai]) + (
        f"?{back}" if back else ""
    )
    if action in LETTER_ACTIONS:
        ids = _ids(request)
        if not ids:
            messages.warning(request, _("Sélectionnez au moins un élève."))
            return redirect(back_url)
        return _letters_response(request, establishment, kind=action, account_ids=ids)
    if action not in ACTIONS:
        messages.error(request, _("Choisissez une action."))
        return redirect(back_url)
    ids = _ids(request)
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
        _ctx(
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
            Division, pk=_int(request.POST.get("division")), establishment=establishment
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
            _ctx(
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


def _forced_result_redirect(request, establishment, accounts) -> HttpResponse:
    token = secrets.token_urlsafe(12)
    batches = dict(list(request.session.get(_BATCHES, {}).items())[-4:])
    batches[token] = [a.pk for a in accounts]
    request.session[_BATCHES] = batches
    messages.success(
        request,
        _("%(n)s mot(s) de passe changé(s) ; les sessions ouvertes de ces élèves sont fermées.")
        % {"n": len(accounts)},
    )
    return redirect("administration:forced_result", establishment.uai, token)


@establishment_right(Right.ADMINISTRATION)
def forced_result(request: HttpRequest, establishment: Establishment, token: str) -> HttpResponse:
    ids = request.session.get(_BATCHES, {}).get(token)
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


@establishment_right(authz.MANAGE_DELEGATIONS)
def delegations(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form = DelegationForm(
        request.POST or None, initial={"end": account_services.default_delegation_end()}
    )
    if request.method == "POST" and form.is_valid():
        agent = account_services.find_agent(form.cleaned_data["agent"])
        if agent is None:
            form.add_error(
                "agent",
                _(
                    "Aucun agent ne correspond (ou plusieurs) : saisissez son "
                    "identifiant de connexion."
                ),
            )
        elif agent == request.user:
            form.add_error("agent", _("Vous détenez déjà tous les droits sur cet établissement."))
        else:
            try:
                account_services.delegate(
                    agent,
                    establishment,
                    form.cleaned_data["right"],
                    end=form.cleaned_data["end"],
                    granted_by=request.user,
                )
            except account_services.DelegationError as exc:
                form.add_error("end", exc.message)
            else:
                messages.success(
                    request,
                    _("Délégation accordée à %(name)s (%(username)s) jusqu'au %(end)s.")
                    % {
                        "name": agent.display_name,
                        "username": agent.username,
                        "end": f"{form.cleaned_data['end']:%d/%m/%Y}",
                    },
                )
                return redirect("administration:delegations", establishment.uai)
    rows = [
        {"d": d, "live": account_selectors.is_live(d)}
        for d in account_selectors.delegations_of(request.user, establishment)
    ]
    return render(
        request,
        "administration/delegations.html",
        _ctx(
            request,
            establishment,
            "delegations",
            form=form,
            rows=rows,
            heads=account_services.heads_of(establishment),
        ),
        status=400 if form.errors else 200,
    )


@require_POST
@establishment_right(authz.MANAGE_DELEGATIONS)
def revoke_delegation(
    request: HttpRequest, establishment: Establishment, delegation_id: int
) -> HttpResponse:
    delegation = get_object_or_404(Delegation, pk=delegation_id, establishment=establishment)
    account_services.revoke_delegation(delegation, by=request.user)
    messages.success(
        request,
        _("La délégation de %(name)s est révoquée : elle cesse immédiatement.")
        % {"name": delegation.agent.display_name},
    )
    return redirect("administration:delegations", establishment.uai)


def _int(value: str | None) -> int:
    """A posted id; anything else matches nothing (404), never a server error."""
    return int(value) if value and value.isdigit() else 0


def _audit_filters(data) -> tuple[AuditFilterForm, audit_selectors.AuditFilters]:
    """The filters that validated. An invalid one is reported on the form and never widens
    the selection to the whole journal: the caller refuses to export then."""
    form = AuditFilterForm(data or None)
    filters = audit_selectors.AuditFilters()
    if form.is_bound:
        form.is_valid()
        valid = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
        filters = audit_selectors.AuditFilters(**valid)
    return form, filters


@establishment_right(Right.ADMINISTRATION)
def journal(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    form, filters = _audit_filters(request.GET)
    events = audit_selectors.events_of(request.user, establishment, filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "administration/journal.html",
        _ctx(
            request,
            establishment,
            "journal",
            form=form,
            page=page,
            querystring=query.urlencode(),
        ),
    )


@require_POST
@establishment_right(Right.ADMINISTRATION)
def journal_csv(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """POST: the export itself is audited, and GET never writes."""
    _form, filters = _audit_filters(request.POST)
    if _form.errors:
        messages.error(request, _("Filtres invalides : corrigez-les avant d'exporter le journal."))
        query = request.POST.copy()
        query.pop("csrfmiddlewaretoken", None)
        return redirect(
            reverse("administration:journal", args=[establishment.uai]) + "?" + query.urlencode()
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
    return _attachment(response, f"journal-{establishment.uai}-{_stamp()}.csv")


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def _attachment(response: HttpResponse, name: str) -> HttpResponse:
    """Offer ``response`` as a download named ``name``. Names carry class codes, which come
    from registry files: only letters (accents kept), digits, ``-``, ``_`` and ``.`` stay,
    and the header is written by Django's RFC 6266 helper (``filename*`` when non-ASCII), so
    that no quote, semicolon or line break can add a parameter or a header."""
    safe = get_valid_filename(name.replace("\n", " ").replace("\r", " "))
    response["Content-Disposition"] = content_disposition_header(True, safe)
    return response


@establishment_right(Right.ADMINISTRATION)
def activation(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    overall, rows = selectors.activation_by_class(request.user, establishment)
    bar = 560  # px, width of a 100 % bar in the chart
    chart = [{"row": r, "y": 40 + i * 34, "w": r.widths(bar)} for i, r in enumerate(rows)]
    for item in chart:
        a, b, _c = item["w"]
        item["x2"], item["x3"] = 120 + a, 120 + a + b
    return render(
        request,
        "administration/activation.html",
        _ctx(
            request,
            establishment,
            "activation",
            overall=overall,
            rows=rows,
            chart=chart,
            overall_w=overall.widths(bar),
            height=60 + 34 * len(rows),
            bar=bar,
        ),
    )


LETTER_ACTIONS = {
    "letters_page": gettext_lazy("Courriers (une page par élève)"),
    "letters_cards": gettext_lazy("Cartes (8 par page)"),
    "credentials_csv": gettext_lazy("Export CSV des identifiants"),
}


def _letters_response(request, establishment, *, kind: str, account_ids=None, division=None):
    """Run a letters action and answer with the file (PDF or CSV)."""
    stamp = _stamp()
    scope = division.code if division else ("selection" if account_ids is not None else "tous")
    if kind == "credentials_csv":
        body = letters.export_credentials_csv(
            request.user, establishment, account_ids=account_ids, division=division
        )
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"identifiants-{establishment.uai}-{scope}-{stamp}.csv"
    else:
        result = letters.issue_letters(
            request.user,
            establishment,
            account_ids=account_ids,
            division=division,
            fmt="cards" if kind == "letters_cards" else "page",
            sign_in_url=absolute_reverse("pupil:login"),
        )
        if not result.count:
            messages.warning(
                request,
                _(
                    "Aucun courrier à éditer : les comptes choisis sont déjà "
                    "activés ou désactivés (réinitialisez-les si besoin)."
                ),
            )
            return redirect("administration:letters", establishment.uai)
        response = HttpResponse(result.pdf, content_type="application/pdf")
        name = f"courriers-{establishment.uai}-{scope}-{stamp}.pdf"
    return _attachment(response, name)


@establishment_right(Right.ADMINISTRATION)
def letters_page(request: HttpRequest, establishment: Establishment) -> HttpResponse:
    """Courriers: letters or cards for a class or the whole establishment, or a CSV."""
    _mefs, divisions = selectors.filter_choices(request.user, establishment, Right.ADMINISTRATION)
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in LETTER_ACTIONS:
            messages.error(request, _("Choisissez un format."))
            return redirect("administration:letters", establishment.uai)
        division = None
        if request.POST.get("division"):
            division = get_object_or_404(
                Division, pk=_int(request.POST["division"]), establishment=establishment
            )
        return _letters_response(request, establishment, kind=kind, division=division)
    overall, rows = selectors.activation_by_class(request.user, establishment)
    return render(
        request,
        "administration/letters.html",
        _ctx(
            request,
            establishment,
            "letters",
            divisions=divisions,
            kinds=LETTER_ACTIONS,
            overall=overall,
            rows=rows,
        ),
    )
