"""Access rules of the web layer. The decision itself is ``accounts.authz``'s."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from educompte.accounts import authz, otp
from educompte.schools.models import Establishment


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def agent_required(view: Callable) -> Callable:
    """Anonymous visitors go to the staff sign-in; pupils are refused."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse(settings.LOGIN_URL))
        if not user.is_agent:
            return forbidden(
                request, _("Cet espace est réservé aux personnels des établissements.")
            )
        return view(request, *args, **kwargs)

    return wrapper


def pupil_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or not user.is_pupil:
            return redirect_to_login(request.get_full_path(), reverse("pupil:login"))
        return view(request, *args, **kwargs)

    return wrapper


def second_factor_redirect(request: HttpRequest) -> HttpResponse:
    """Lead an agent who holds the right to enrolment or to the code page, never to a
    refusal: the second factor is a step of the way in."""
    target = "otp:verify" if otp.has_second_factor(request.user) else "otp:enrol"
    return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


def academy_required(view: Callable) -> Callable:
    """Academy administrators only, in a session verified by the second factor."""

    @agent_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not authz.is_academy_admin(request.user):
            return forbidden(request, _("Cet espace est réservé aux administrateurs académiques."))
        if not otp.is_verified(request):
            return second_factor_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper


def establishment_right(right: str) -> Callable[[Callable], Callable]:
    """Resolve ``uai`` from the URL into ``establishment`` and require ``right`` on it
    (and a verified second factor for the rights that need one)."""

    def decorator(view: Callable) -> Callable:
        @agent_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, uai: str, *args, **kwargs) -> HttpResponse:
            # A page that changes nothing reads the agent's rights once for all its checks.
            with authz.rights_read_once(request.user, request.method in ("GET", "HEAD")):
                establishment = get_object_or_404(Establishment, uai=uai.upper())
                if not authz.has_right(request.user, right, establishment):
                    return forbidden(
                        request,
                        _(
                            "Vous ne disposez pas (ou plus) de ce droit sur cet établissement. "
                            "Adressez-vous à votre chef d'établissement."
                        ),
                    )
                if right in authz.SECOND_FACTOR_RIGHTS and not otp.is_verified(request):
                    return second_factor_redirect(request)
                return view(request, *args, establishment=establishment, **kwargs)

        return wrapper

    return decorator
