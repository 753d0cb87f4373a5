"""Staff passwords from the portal: the invitation link (choose a first password), the
forgotten-password link by e-mail, and « Mon compte » (change it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from educompte.accounts import staff
from educompte.accounts.models import User
from educompte.core import after_response
from educompte.core.dates import moment
from educompte.core.net import client_ip
from educompte.www.access import agent_required
from educompte.www.passwords import (
    ChangePasswordForm,
    new_password_page,
    recovery_refused,
    token_to_session,
)
from educompte.www.portal.forms import StaffForgotForm

# As for the pupils' links, the token moves from the URL into the session (token_to_session).
_TOKEN = "educompte.staff_link_token"  # noqa: S105 - a session key name
_SLUG = "mot-de-passe"


def _choose_password(request: HttpRequest, agent: User | None, title: str) -> HttpResponse:
    if agent is None:
        return render(request, "portal/link_invalid.html", status=400)
    return new_password_page(
        request,
        template="portal/choose_password.html",
        context={"agent": agent, "title": title},
        save=lambda password: staff.set_password(agent, password),
        session_key=_TOKEN,
        done_message=_("Mot de passe enregistré. Connectez-vous avec votre identifiant %(login)s.")
        % {"login": agent.username},
        done_url="portal:login",
    )


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    if moved := token_to_session(request, _TOKEN, token, _SLUG, "portal:invitation"):
        return moved
    agent = staff.agent_for_invitation(request.session.get(_TOKEN, ""))
    return _choose_password(request, agent, _("Choisir votre mot de passe"))


def forgot(request: HttpRequest) -> HttpResponse:
    form = StaffForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if (refused := recovery_refused(request)) is not None:
            return refused
        staff.request_recovery_link(
            form.cleaned_data["query"], defer=after_response.deferrer(request)
        )
        return render(request, "portal/forgot_sent.html")
    return render(request, "portal/forgot.html", {"form": form}, status=400 if form.errors else 200)


def recovery_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if moved := token_to_session(request, _TOKEN, token, _SLUG, "portal:recovery_link", uidb64):
        return moved
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
