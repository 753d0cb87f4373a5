"""The establishment's audit log, for Administration des comptes."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import itertools
from collections.abc import Iterable, Iterator

from django.db.models import Q, QuerySet
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.sentences import sentences
from educompte.core.text import normalize, spreadsheet_cell
from educompte.schools.models import Establishment


@dataclasses.dataclass
class AuditFilters:
    agent: str = ""
    pupil: str = ""
    action: str = ""
    start: datetime.date | None = None
    end: datetime.date | None = None


def events_of(
    user: User, establishment: Establishment, filters: AuditFilters
) -> QuerySet[AuditEvent]:
    authz.authorize(user, Right.ADMINISTRATION, establishment)
    qs = AuditEvent.objects.filter(establishment=establishment)
    if filters.agent:
        qs = qs.filter(actor_label__icontains=filters.agent.strip())
    if filters.pupil:
        cond = Q(subject_label__icontains=filters.pupil.strip())
        words = normalize(filters.pupil).split()
        if words:
            name_cond = Q()
            for word in words:
                name_cond &= Q(account__student__search_name__contains=word)
            cond |= name_cond
        qs = qs.filter(cond)
    if filters.action in AuditEvent.Action.values:
        qs = qs.filter(action=filters.action)
    tz = timezone.get_current_timezone()
    if filters.start:
        qs = qs.filter(
            created_at__gte=datetime.datetime.combine(filters.start, datetime.time.min, tz)
        )
    if filters.end:
        qs = qs.filter(
            created_at__lt=datetime.datetime.combine(
                filters.end + datetime.timedelta(days=1), datetime.time.min, tz
            )
        )
    return qs.select_related("actor", "account__student").order_by("-created_at", "-pk")


CSV_HEADER = [
    "Date",
    "Heure",
    "Agent",
    "Action",
    "Élève",
    "Identifiant",
    "Adresse IP",
    "Détails",
    "Événement",
]


def export_csv(events: QuerySet[AuditEvent]) -> bytes:
    """';'-separated UTF-8 with a BOM: a French spreadsheet opens it directly."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for event, sentence in _with_sentences(events.iterator(chunk_size=2000)):
        when = timezone.localtime(event.created_at)
        student = event.account.student if event.account_id and event.account else None
        details = ", ".join(f"{k}={v}" for k, v in sorted(event.details.items()))
        writer.writerow(
            [
                when.strftime("%d/%m/%Y"),
                when.strftime("%H:%M:%S"),
                spreadsheet_cell(event.actor_label),
                event.get_action_display(),
                spreadsheet_cell(student.full_name if student else ""),
                spreadsheet_cell(event.subject_label),
                event.ip_address or "",
                spreadsheet_cell(details),
                spreadsheet_cell(sentence),
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _with_sentences(events: Iterable[AuditEvent]) -> Iterator[tuple[AuditEvent, str]]:
    """The events with their sentence, built a chunk at a time (one query per chunk for
    the agents the details name)."""
    iterator = iter(events)
    while chunk := list(itertools.islice(iterator, 2000)):
        yield from zip(chunk, sentences(chunk), strict=True)


def actions_of(user: User, establishment: Establishment) -> list[tuple[str, str]]:
    """The actions found in the establishment's journal, for the filter's list (an action
    that never happened there is not offered)."""
    authz.authorize(user, Right.ADMINISTRATION, establishment)
    found = set(
        AuditEvent.objects.filter(establishment=establishment)
        .order_by()
        .values_list("action", flat=True)
        .distinct()
    )
    return [(value, str(label)) for value, label in AuditEvent.Action.choices if value in found]
