"""The site's home page, staff sign-in and the portal listing the applications each agent
may open."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from educompte.accounts import authz
from educompte.accounts import selectors as account_selectors
from educompte.accounts import services as account_services
from educompte.accounts.models import Right, StaffAlert
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.core.dates import moment
from educompte.core.net import client_ip
from educompte.pupils import recovery
from educompte.registry import transfers
from educompte.www.access import agent_required
from educompte.www.nav import requested_next
from educompte.www.sign_in import SignInForm

# The applications that exist so far, in portal order, with where they open.
APPLICATIONS = {
    Right.DEPANNAGE: (
        gettext_lazy("Dépannage des comptes élèves"),
        "depannage:pupils",
        gettext_lazy(
            "Rechercher un élève, voir ou réinitialiser son mot de passe, débloquer sa "
            "connexion, traiter les demandes des élèves."
        ),
    ),
    Right.ADMINISTRATION: (
        gettext_lazy("Administration des comptes"),
        "administration:pupils",
        gettext_lazy(
            "Importer la base élèves, éditer les courriers d'identifiants, suivre "
            "l'activation ; désactiver, imposer un changement de mot de passe ; personnels, "
            "délégations et journal. Demande un code de vérification."
        ),
    ),
}


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    error = None
    nxt = requested_next(request)
    if request.method == "POST" and form.is_valid():
        result = account_services.sign_in_agent(
            form.cleaned_data["username"], form.cleaned_data["password"], ip=client_ip(request)
        )
        if result.agent is not None:
            login(request, result.agent, backend="django.contrib.auth.backends.ModelBackend")
            record(AuditEvent.Action.STAFF_SIGN_IN, actor=result.agent, ip=client_ip(request))
            return redirect(nxt or "portal:index")
        if result.retry_at is not None:
            when = moment(result.retry_at)
            error = _("Trop d'essais infructueux. Réessayez à partir du %(when)s.") % {"when": when}
        else:
            error = _("Identifiant ou mot de passe incorrect.")
    return render(
        request,
        "portal/sign_in.html",
        {"form": form, "error": error, "next": nxt},
        status=400 if error else 200,
    )


@agent_required
def index(request: HttpRequest) -> HttpResponse:
    rows = []
    granted = authz.applications_by_establishment(request.user)
    pending = recovery.open_request_counts(
        [est.pk for est, rights in granted if Right.DEPANNAGE in rights]
    )
    # Other establishments asking for pupils: the administration tile says how many.
    transfer_requests = transfers.pending_counts(
        [est.pk for est, rights in granted if Right.ADMINISTRATION in rights]
    )
    for establishment, rights in granted:
        apps = [
            {
                "label": APPLICATIONS[r][0],
                "url": reverse(APPLICATIONS[r][1], args=[establishment.uai]),
                "description": APPLICATIONS[r][2],
                "requests": pending.get(establishment.pk, 0) if r == Right.DEPANNAGE else 0,
                "requests_url": reverse("depannage:requests", args=[establishment.uai]),
                "transfers": transfer_requests.get(establishment.pk, 0)
                if r == Right.ADMINISTRATION
                else 0,
            }
            for r in rights
            if r in APPLICATIONS
        ]
        if apps:
            rows.append({"establishment": establishment, "applications": apps})
    return render(
        request,
        "portal/index.html",
        {
            "rows": rows,
            "alerts": account_selectors.alerts_for(request.user),
            "academy": authz.is_academy_admin(request.user),
        },
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("Votre session est fermée."))
    return redirect(settings.LOGIN_URL)


@require_POST
@agent_required
def dismiss_alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Heads mark an alert of one of their establishments as read."""
    alert = get_object_or_404(StaffAlert, pk=alert_id)
    account_services.dismiss_alert(alert, by=request.user)  # refused (403) unless head
    return redirect("portal:index")


def home(request: HttpRequest) -> HttpResponse:
    """The site's home page: the way in for pupils and for staff."""
    return render(request, "www/home.html")
