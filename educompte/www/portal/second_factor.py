"""Second factor for staff: enrolment (QR code + secret, first code, recovery codes) and
the code page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from educompte.accounts import otp
from educompte.www.access import agent_required
from educompte.www.nav import requested_next
from educompte.www.portal.forms import CodeForm

_CODES = "educompte.recovery_codes"


def _wait_message(seconds: int) -> str:
    return ngettext(
        "Trop de codes erronés d'affilée : attendez %(n)d seconde, puis saisissez le code "
        "affiché à ce moment-là.",
        "Trop de codes erronés d'affilée : attendez %(n)d secondes, puis saisissez le code "
        "affiché à ce moment-là.",
        seconds,
    ) % {"n": seconds}


def _device_id(request: HttpRequest) -> int | None:
    """The pending device the answered page showed (its hidden field), if well formed."""
    value = request.POST.get("device", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@agent_required
def enrol(request: HttpRequest) -> HttpResponse:
    nxt = requested_next(request)
    if otp.has_second_factor(request.user):
        return redirect(f"{reverse('otp:verify')}?{urlencode({'next': nxt})}")
    form = CodeForm(request.POST or None)
    device = None
    if request.method == "POST" and form.is_valid():
        try:
            codes = otp.confirm_enrolment(request, form.cleaned_data["code"], _device_id(request))
        except otp.WaitBeforeRetry as exc:
            form.add_error("code", _wait_message(exc.seconds))
        except otp.EnrolmentOutdated:
            form.add_error(
                "code",
                _(
                    "Cette page n'est plus valable : une nouvelle clé a été produite depuis. "
                    "Ajoutez à votre application la clé affichée ci-dessous, puis saisissez "
                    "le code qu'elle affiche."
                ),
            )
            if otp.has_second_factor(request.user):  # confirmed in another session
                return redirect(f"{reverse('otp:verify')}?{urlencode({'next': nxt})}")
        else:
            if codes is not None:
                request.session[_CODES] = codes
                return redirect(f"{reverse('otp:recovery_codes')}?{urlencode({'next': nxt})}")
            pending = otp.session_pending_device(request)
            if pending is not None and otp.clock_looks_off(pending, form.cleaned_data["code"]):
                message = _(
                    "Ce code n'est pas celui de maintenant : l'heure de votre téléphone "
                    "semble décalée. Réglez-la sur l'heure automatique, puis saisissez le "
                    "code affiché."
                )
            else:
                message = _(
                    "Ce code n'est pas valide. Saisissez les 6 chiffres affichés "
                    "actuellement par l'application."
                )
            form.add_error("code", message)
    if request.method == "POST":
        # An answer keeps the key the agent has just added to the application.
        device = otp.session_pending_device(request)
    if device is None:
        # Each display of the page draws a new key, bound to this session.
        device = otp.draw_pending_device(request)
    return render(
        request,
        "security/enrol.html",
        {
            "form": form,
            "next": nxt,
            "device_id": device.pk,
            "secret": otp.secret_text(device),
            "qr": otp.qr_data_uri(device),
        },
        status=400 if form.errors else 200,
    )


@agent_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop(_CODES, None)
    if not codes:
        return redirect("portal:index")
    return render(
        request, "security/recovery_codes.html", {"codes": codes, "next": requested_next(request)}
    )


@agent_required
def verify(request: HttpRequest) -> HttpResponse:
    nxt = requested_next(request)
    if not otp.has_second_factor(request.user):
        return redirect(f"{reverse('otp:enrol')}?{urlencode({'next': nxt})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if otp.verify(request, form.cleaned_data["code"]):
                return redirect(nxt or "portal:index")
        except otp.WaitBeforeRetry as exc:
            form.add_error("code", _wait_message(exc.seconds))
        else:
            form.add_error("code", _("Ce code n'est pas valide ou a déjà été utilisé."))
    return render(
        request,
        "security/verify.html",
        {
            "form": form,
            "next": nxt,
            "recovery_left": otp.remaining_recovery_codes(request.user),
        },
        status=400 if form.errors else 200,
    )
