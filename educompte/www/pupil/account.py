"""Pupil self-service pages: "Mot de passe oublié", "Demander à mon établissement", the
reset link, e-mail confirmation and "Mon compte"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from educompte.core import after_response
from educompte.core.links import absolute_reverse
from educompte.core.net import client_ip
from educompte.pupils import recovery
from educompte.pupils.models import StudentAccount
from educompte.www.access import pupil_required
from educompte.www.nav import email_confirm_url
from educompte.www.passwords import (
    ChangePasswordForm,
    new_password_page,
    recovery_refused,
    token_to_session,
)
from educompte.www.pupil.forms import (
    EmailForm,
    ForgotForm,
    SupportRequestForm,
)
from educompte.www.pupil.messages import locked_message

_RESET_TOKEN = "educompte.reset_token"  # noqa: S105 - a session key name
_RESET_SLUG = "nouveau-mot-de-passe"


def forgot(request: HttpRequest) -> HttpResponse:
    form = ForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if (refused := recovery_refused(request)) is not None:
            return refused
        recovery.request_reset_link(
            form.cleaned_data["query"],
            reset_url_for=lambda uid, token: absolute_reverse("pupil:reset_link", uid, token),
            # After the response: its timing must not tell whether a mail went out.
            defer=after_response.deferrer(request),
        )
        return render(request, "pupil/forgot_sent.html")
    return render(request, "pupil/forgot.html", {"form": form}, status=400 if form.errors else 200)


def ask_school(request: HttpRequest) -> HttpResponse:
    form = SupportRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if (refused := recovery_refused(request)) is not None:
            return refused
        data = form.cleaned_data
        recovery.create_support_request(
            data["identifier"],
            data["class_given"],
            data["message"],
            last_name=data["last_name"],
            first_name=data["first_name"],
            birth_date=data["birth_date"],
            ip=client_ip(request),
        )
        return render(request, "pupil/ask_school_sent.html")
    return render(
        request, "pupil/ask_school.html", {"form": form}, status=400 if form.errors else 200
    )


def reset_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link from the e-mail. As Django does, the token moves from the URL into the
    session at once, so it never leaks through the Referer header of the next page."""
    if moved := token_to_session(
        request, _RESET_TOKEN, token, _RESET_SLUG, "pupil:reset_link", uidb64
    ):
        return moved
    account = recovery.account_for_reset_link(uidb64, request.session.get(_RESET_TOKEN, ""))
    if account is None:
        return render(request, "pupil/reset_invalid.html", status=400)
    return new_password_page(
        request,
        template="pupil/reset_form.html",
        context={"account": account},
        save=lambda password: recovery.reset_with_link(account, password),
        session_key=_RESET_TOKEN,
        done_message=_(
            "Votre mot de passe est changé. Connectez-vous avec le nouveau mot de passe."
        ),
        done_url="pupil:login",
    )


def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; the POST confirms (no state change on GET, even from a mail)."""
    if request.method == "POST":
        account = recovery.confirm_email(token)
        if account is None:
            return render(request, "pupil/confirm_email.html", {"invalid": True}, status=400)
        return render(request, "pupil/confirm_email.html", {"done": True, "account": account})
    return render(request, "pupil/confirm_email.html", {"token": token})


def _locked(form, field: str, retry_at) -> None:
    """The sign-in page's message, on the current-password field."""
    form.add_error(field, locked_message(retry_at))


def _add_errors(form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _email_done(account: StudentAccount, outcome: recovery.EmailChange) -> str:
    if outcome is recovery.EmailChange.REMOVED:
        return _("Votre adresse électronique est retirée.")
    if outcome is recovery.EmailChange.UNCHANGED:
        return _("Cette adresse est déjà confirmée.")
    return _("Un lien de confirmation a été envoyé à %(email)s.") % {"email": account.pending_email}


@pupil_required
def my_account(request: HttpRequest) -> HttpResponse:
    account = request.user.student_account
    has_address = bool(account.email or account.pending_email)
    password_form = ChangePasswordForm(prefix="pw")
    email_form = EmailForm(
        prefix="mail",
        has_address=has_address,
        initial={"email": account.pending_email or account.email},
    )
    status = 200
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "password":
            password_form = ChangePasswordForm(request.POST, prefix="pw")
            if password_form.is_valid():
                try:
                    recovery.change_password(
                        account,
                        password_form.cleaned_data["current_password"],
                        password_form.cleaned_data["new_password1"],
                        ip=client_ip(request),
                    )
                except recovery.TooManyAttempts as exc:
                    _locked(password_form, "current_password", exc.retry_at)
                except ValidationError as exc:
                    _add_errors(password_form, exc)
                else:
                    update_session_auth_hash(request, account.user)
                    messages.success(request, _("Votre mot de passe est changé."))
                    return redirect("pupil:account")
            status = 400
        elif what == "email":
            email_form = EmailForm(request.POST, prefix="mail", has_address=has_address)
            if email_form.is_valid():
                try:
                    outcome = recovery.change_email(
                        account,
                        email_form.cleaned_data["email"],
                        email_form.cleaned_data["current_password"],
                        ip=client_ip(request),
                        confirm_url_for=email_confirm_url,
                        defer=after_response.deferrer(request),
                    )
                except recovery.TooManyAttempts as exc:
                    _locked(email_form, "current_password", exc.retry_at)
                except ValidationError as exc:
                    _add_errors(email_form, exc)
                else:
                    messages.success(request, _email_done(account, outcome))
                    return redirect("pupil:account")
            status = 400
        elif what == "sessions":
            recovery.end_other_sessions(request.user)
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Vos autres sessions sont fermées."))
            return redirect("pupil:account")
    return render(
        request,
        "pupil/account.html",
        {
            "account": account,
            "password_form": password_form,
            "email_form": email_form,
        },
        status=status,
    )
