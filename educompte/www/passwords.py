"""What pupils' and staff's password pages share: the forms (choosing a new password —
activation, recovery link, invitation — and changing it in « Mon compte »), the page of a
mailed link, and the throttling of the recovery pages."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from educompte.accounts import throttling
from educompte.core.net import client_ip

# In an app's templates: the forms renderer reads app directories only.
PASSWORD_FIELD = "www/password_field.html"  # noqa: S105 - a template name


def password_field(label: str, autocomplete: str) -> forms.CharField:
    """A password as typed (never stripped), with the browser's password-manager hint,
    shown as the DSFR password component (« Afficher »)."""
    return forms.CharField(
        label=label,
        strip=False,
        max_length=256,
        template_name=PASSWORD_FIELD,
        widget=forms.PasswordInput(
            attrs={"autocomplete": autocomplete, "class": "fr-password__input fr-input"}
        ),
    )


class NewPasswordForm(DsfrBaseForm):
    new_password1 = password_field(_("Nouveau mot de passe"), "new-password")
    new_password2 = password_field(_("Confirmation du nouveau mot de passe"), "new-password")

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("Les deux mots de passe ne sont pas identiques."))
        return data

    def refused(self, exc: ValidationError) -> None:
        """Show a refusal of the new password (Django's validators) on its field."""
        for error in exc.message_dict.get("new_password1", exc.messages):
            self.add_error("new_password1", error)


class ChangePasswordForm(NewPasswordForm):
    current_password = password_field(_("Mot de passe actuel"), "current-password")
    field_order = ["current_password", "new_password1", "new_password2"]


# --- The pages both sides share ------------------------------------------------------------


def token_to_session(
    request: HttpRequest, key: str, token: str, slug: str, viewname: str, *args: object
) -> HttpResponse | None:
    """A mailed link's token moves from the URL into the session at once, as Django's own
    reset view does, so it never leaks through the Referer header of the next page: the
    redirect to the same page with ``slug`` in its place, or None once there."""
    if token == slug:
        return None
    request.session[key] = token
    return redirect(viewname, *args, slug)


def new_password_page(
    request: HttpRequest,
    *,
    template: str,
    context: dict,
    save: Callable[[str], None],
    session_key: str,
    done_message: str,
    done_url: str,
) -> HttpResponse:
    """The page of a link that lets one choose a password: ``save`` the new one (Django's
    validators may refuse it, shown on the field), then forget the link and sign in."""
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data["new_password1"])
        except ValidationError as exc:
            form.refused(exc)
        else:
            request.session.pop(session_key, None)
            messages.success(request, done_message)
            return redirect(done_url)
    return render(request, template, {**context, "form": form}, status=400 if form.errors else 200)


def recovery_refused(request: HttpRequest) -> HttpResponse | None:
    """Counts a request to a recovery page (« mot de passe oublié », requests to the
    school); the refusal page once the address made too many this hour."""
    verdict = throttling.count_attempt(client_ip(request))
    if verdict.allowed:
        return None
    return render(request, "pupil/too_many.html", {"retry_at": verdict.retry_at}, status=429)
