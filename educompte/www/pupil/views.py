"""Pupil side: sign-in, activation with the provisional password, "Mes services"."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from educompte.core import after_response
from educompte.core.net import client_ip
from educompte.pupils import recovery, services
from educompte.pupils.models import AccountState, StudentAccount
from educompte.www.access import pupil_required
from educompte.www.nav import email_confirm_url, safe_next
from educompte.www.pupil.forms import ActivationForm
from educompte.www.pupil.messages import locked_message
from educompte.www.sign_in import SignInForm

BACKEND = "django.contrib.auth.backends.ModelBackend"
_ACTIVATION = "educompte.activation"
_NEXT = "educompte.next"
FAILED = gettext_lazy(
    "Identifiant ou mot de passe incorrect. Vérifiez votre saisie. En cas d'oubli ou si "
    "votre compte a été désactivé, utilisez « Mot de passe oublié » ou adressez-vous à "
    "votre établissement."
)


def _go_on(request: HttpRequest) -> HttpResponse:
    return redirect(safe_next(request, request.session.pop(_NEXT, None)) or "pupil:services")


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    error = None
    if request.method == "GET":
        nxt = safe_next(request, request.GET.get("next"))
        if nxt:
            request.session[_NEXT] = nxt
    if request.method == "POST" and form.is_valid():
        result = services.sign_in_pupil(
            form.cleaned_data["username"], form.cleaned_data["password"], ip=client_ip(request)
        )
        outcome = result.outcome
        if outcome is services.SignIn.OK:
            nxt = request.session.get(_NEXT)
            login(request, result.account.user, backend=BACKEND)
            if nxt:
                request.session[_NEXT] = nxt
            return _go_on(request)
        if outcome is services.SignIn.ACTIVATE:
            nxt = request.session.get(_NEXT)
            request.session.cycle_key()
            request.session[_ACTIVATION] = {
                "account": result.account.pk,
                "issued": result.account.provisional_issued_at.isoformat(),
            }
            if nxt:
                request.session[_NEXT] = nxt
            return redirect("pupil:activate")
        if outcome is services.SignIn.LOCKED:
            error = locked_message(result.retry_at)
        elif outcome is services.SignIn.EXPIRED:
            error = _(
                "Ce mot de passe provisoire a expiré. Demandez un nouveau mot de passe à votre "
                "établissement."
            )
        elif outcome is services.SignIn.DEACTIVATED:
            error = _("Ce compte est désactivé. Adressez-vous à votre établissement.")
        else:
            error = FAILED
    return render(
        request, "pupil/sign_in.html", {"form": form, "error": error}, status=400 if error else 200
    )


def _pending_account(request: HttpRequest) -> StudentAccount | None:
    """The account being activated in this session, if its provisional password still holds."""
    pending = request.session.get(_ACTIVATION)
    if not pending:
        return None
    account = (
        StudentAccount.objects.select_related("user", "student")
        .filter(pk=pending.get("account"))
        .first()
    )
    if (
        account is None
        or account.state in (AccountState.ACTIVE, AccountState.DEACTIVATED)
        or account.provisional_issued_at is None
        or account.provisional_issued_at.isoformat() != pending.get("issued")
        or services.provisional_expired(account)
    ):
        request.session.pop(_ACTIVATION, None)
        return None
    return account


def _activation_locked(request: HttpRequest, retry_at: datetime.datetime) -> HttpResponse:
    """The account must wait: this session's pending activation ends (signing in again is
    throttled by the same counters) and the sign-in page says until when."""
    request.session.pop(_ACTIVATION, None)
    return render(
        request,
        "pupil/sign_in.html",
        {"form": SignInForm(), "error": locked_message(retry_at)},
        status=400,
    )


def activate(request: HttpRequest) -> HttpResponse:
    account = _pending_account(request)
    if account is None:
        messages.info(
            request, _("Connectez-vous avec votre identifiant et votre mot de passe provisoire.")
        )
        return redirect("pupil:login")
    ip = client_ip(request)
    if (retry_at := services.activation_locked_until(account, ip=ip)) is not None:
        return _activation_locked(request, retry_at)
    form = ActivationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.activate(
                account,
                new_password=form.cleaned_data["new_password1"],
                birth_date=form.cleaned_data["birth_date"],
                ip=ip,
            )
        except services.ActivationLocked as exc:
            return _activation_locked(request, exc.retry_at)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            nxt = request.session.get(_NEXT)
            request.session.pop(_ACTIVATION, None)
            if form.cleaned_data.get("email"):
                recovery.set_email(
                    account,
                    form.cleaned_data["email"],
                    confirm_url_for=email_confirm_url,
                    defer=after_response.deferrer(request),
                )
                messages.info(
                    request, _("Un lien de confirmation a été envoyé à votre adresse électronique.")
                )
            login(request, account.user, backend=BACKEND)
            if nxt:
                request.session[_NEXT] = nxt
            messages.success(
                request, _("Votre compte est activé. Retenez bien votre nouveau mot de passe.")
            )
            return _go_on(request)
    return render(
        request,
        "pupil/activate.html",
        {"form": form, "account": account, "rules": form.password_rules()},
        status=400 if form.is_bound and form.errors else 200,
    )


@pupil_required
def my_services(request: HttpRequest) -> HttpResponse:
    from educompte.sso.selectors import services_with_home

    account = request.user.student_account
    return render(
        request, "pupil/services.html", {"account": account, "services": services_with_home()}
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("Votre session est fermée."))
    return redirect("pupil:login")
