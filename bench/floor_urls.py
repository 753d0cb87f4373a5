"""A URL configuration for the sign-in profile's floor: the least any sign-in does through
the app's own middleware (CSRF check, a new session written to the database, a redirect),
without a form, a pupil, throttling or a password."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path


def floor(request: HttpRequest) -> HttpResponse:
    request.session["floor"] = 1
    return HttpResponseRedirect("/mes-services/")


urlpatterns = [path("connexion/", floor)]
