"""Staff passwords from the portal: the invitation link (choose a first password), the
forgotten-password link by e-mail, and « Mon compte » (change it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from educompte.accounts import staff, throttling
from educompte.accounts.models import User
from educompte.core import after_response
from educompte.core.dates import moment
from educompte.core.net import client_ip
from educompte.www.access import agent_required
from educompte.www.passwords import ChangePasswordForm, NewPasswordForm
from educompte.www.portal.forms import StaffForgotForm

# As for the pupils' links: the token moves from the URL into the session at once, so it
# never leaks through the Referer header of the next page.
_TOKEN = "educompte.staff_link_token"  # noqa: S105 - a session key name
_SLUG = "mot-de-passe"


def _choose_password(request: HttpRequest, agent: User | None, title: str) -> HttpResponse:
    if agent is None:
        return render(request, "portal/link_invalid.html", status=400)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            staff.set_password(agent, form.cleaned_data["new_password1"])
        except ValidationError as exc:
            form.refused(exc)
        else:
            request.session.pop(_TOKEN, None)
            messages.success(
                request,
                _("Mot de passe enregistré. Connectez-vous avec votre identifiant %(login)s.")
                % {"login": agent.username},
            )
            return redirect("portal:login")
    return render(
        request,
        "portal/choose_password.html",
        {"form": form, "agent": agent, "title": title},
        status=400 if form.errors else 200,
    )


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    if token != _SLUG:
        request.session[_TOKEN] = token
        return redirect("portal:invitation", _SLUG)
    agent = staff.agent_for_invitation(request.session.get(_TOKEN, ""))
    return _choose_password(request, agent, _("Choisir votre mot de passe"))


def forgot(request: HttpRequest) -> HttpResponse:
    form = StaffForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verdict = throttling.count_attempt(client_ip(request))
        if not verdict.allowed:
            return render(
                request, "pupil/too_many.html", {"retry_at": verdict.retry_at}, status=429
            )
        staff.request_recovery_link(
            form.cleaned_data["query"], defer=after_response.deferrer(request)
        )
        return render(request, "portal/forgot_sent.html")
    return render(request, "portal/forgot.html", {"form": form}, status=400 if form.errors else 200)


def recovery_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != _SLUG:
        request.session[_TOKEN] = token
        return redirect("portal:recovery_link", uidb64, _SLUG)
    agent = staff.agent_for_recovery_link(uidb64, request.session.get(_TOKEN, ""))
    return _choose_password(request, agent, _("Choisir un nouveau mot de passe"))


@agent_required
def my_account(request: HttpRequest) -> HttpResponse:
    form = ChangePasswordForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            staff.change_password(
                request.user,
                data["current_password"],
                data["new_password1"],
                ip=client_ip(request),
            )
        except staff.TooManyAttempts as exc:
            when = moment(exc.retry_at)
            error = _("Trop d'essais infructueux. Réessayez à partir du %(when)s.") % {"when": when}
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            update_session_auth_hash(request, request.user)  # this session stays open
            messages.success(request, _("Votre mot de passe a été changé."))
            return redirect("portal:account")
    return render(
        request,
        "portal/account.html",
        {"form": form, "error": error},
        status=400 if form.errors or error else 200,
    )
