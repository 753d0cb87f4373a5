"""Administration des comptes, tab "Activation": how many accounts of each class are
activated, as a chart and a table."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from educompte.accounts.models import Right
from educompte.pupils import selectors
from educompte.schools.models import Establishment
from educompte.www.access import establishment_right
from educompte.www.administration.console import console_context


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
        console_context(
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
