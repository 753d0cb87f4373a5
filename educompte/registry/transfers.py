"""Pupils changing establishment inside the installation.

An import never takes a pupil who is still current in another establishment: it files a
``TransferRequest`` that the pupil's establishment (an agent with *administration* there)
or the academy accepts or refuses. Accepting moves the pupil with the account untouched:
same identifier, state, password and single sign-on subjects. Both journals record the
request and the decision; the requesting establishment's side only ever names what its
own file said.
"""

from __future__ import annotations

import enum

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.pupils.models import Student, StudentAccount
from educompte.registry.models import TransferRequest
from educompte.schools.models import Division, Establishment, school_year_of

TRANSFER_REQUESTED = AuditEvent.Action.TRANSFER_REQUESTED
TRANSFER_ACCEPTED = AuditEvent.Action.TRANSFER_ACCEPTED
TRANSFER_REFUSED = AuditEvent.Action.TRANSFER_REFUSED
LEAVER_ARRIVED = AuditEvent.Action.LEAVER_ARRIVED

HISTORY = 20


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    ALREADY_DECIDED = "already_decided"
    OBSOLETE = "obsolete"  # the pupil is no longer in the establishment asked


def request(
    student: Student,
    to_establishment: Establishment,
    *,
    actor: User | None,
    registry_id: str,
    division_code: str,
    label: str,
) -> TransferRequest:
    """File a pending request (called by the import, inside its transaction)."""
    transfer = TransferRequest.objects.create(
        student=student,
        from_establishment_id=student.establishment_id,
        to_establishment=to_establishment,
        requested_by=actor if getattr(actor, "pk", None) else None,
        registry_id=registry_id,
        division_code=division_code,
        label=label,
    )
    record(
        TRANSFER_REQUESTED,
        actor=actor,
        establishment=student.establishment,
        account=student.account,
        transfer=transfer.pk,
        to_uai=to_establishment.uai,
    )
    # The requesting side: what its file said, nothing of the other establishment.
    record(
        TRANSFER_REQUESTED,
        actor=actor,
        establishment=to_establishment,
        transfer=transfer.pk,
        pupil=label,
    )
    return transfer


def record_arrivals(
    establishment: Establishment,
    arrivals: list[tuple[Establishment, StudentAccount]],
    *,
    actor: User | None,
) -> None:
    """Leavers of other establishments taken by ``establishment``'s import: both journals
    say so, and requests for them that were still pending are moot."""
    for origin, account in arrivals:
        record(
            LEAVER_ARRIVED,
            actor=actor,
            establishment=origin,
            account=account,
            to_uai=establishment.uai,
        )
        record(
            LEAVER_ARRIVED,
            actor=actor,
            establishment=establishment,
            account=account,
            from_uai=origin.uai,
        )
    TransferRequest.objects.filter(
        student_id__in=[account.student_id for _origin, account in arrivals],
        state=TransferRequest.State.PENDING,
    ).update(state=TransferRequest.State.CANCELLED, decided_at=timezone.now())


def may_decide(user: object, transfer: TransferRequest) -> bool:
    """The pupil's establishment (administration right) or the academy."""
    return authz.has_right(
        user, Right.ADMINISTRATION, transfer.from_establishment
    ) or authz.is_academy_admin(user)


@transaction.atomic
def decide(actor: User | authz.Operator | None, transfer_id: int, *, accept: bool) -> Outcome:
    """Accept (the pupil moves, account untouched) or refuse a pending request, as the
    pupil's establishment, the academy or the operator (``authz.OPERATOR``)."""
    transfer = (
        TransferRequest.objects.select_for_update(of=("self",))
        .select_related(
            "student__account__user", "from_establishment", "to_establishment", "student"
        )
        .get(pk=transfer_id)
    )
    if not may_decide(actor, transfer):
        raise PermissionDenied
    if transfer.state != TransferRequest.State.PENDING:
        return Outcome.ALREADY_DECIDED
    student = transfer.student
    now = timezone.now()
    if student.establishment_id != transfer.from_establishment_id:
        transfer.decide(TransferRequest.State.CANCELLED, actor, now)
        return Outcome.OBSOLETE
    origin, target = transfer.from_establishment, transfer.to_establishment
    account = student.account
    if accept:
        _move(student, transfer)
        TransferRequest.objects.filter(
            student=student, state=TransferRequest.State.PENDING
        ).exclude(pk=transfer.pk).update(state=TransferRequest.State.CANCELLED, decided_at=now)
        record(
            TRANSFER_ACCEPTED,
            actor=actor,
            establishment=origin,
            account=account,
            transfer=transfer.pk,
            to_uai=target.uai,
        )
        record(
            TRANSFER_ACCEPTED,
            actor=actor,
            establishment=target,
            account=account,
            transfer=transfer.pk,
            from_uai=origin.uai,
        )
    else:
        record(
            TRANSFER_REFUSED,
            actor=actor,
            establishment=origin,
            account=account,
            transfer=transfer.pk,
            to_uai=target.uai,
        )
        record(
            TRANSFER_REFUSED,
            actor=actor,
            establishment=target,
            transfer=transfer.pk,
            pupil=transfer.label,
        )
    state = TransferRequest.State.ACCEPTED if accept else TransferRequest.State.REFUSED
    transfer.decide(state, actor, now)
    return Outcome.ACCEPTED if accept else Outcome.REFUSED


def _move(student: Student, transfer: TransferRequest) -> None:
    """The pupil joins the requesting establishment, in the class its file gave. The
    account (identifier, state, password, sessions, SSO subjects) is left as it is; the
    next import there brings names and the rest up to date."""
    target = transfer.to_establishment
    division = None
    if transfer.division_code:
        division, _created = Division.objects.get_or_create(
            establishment=target,
            school_year=school_year_of(timezone.localdate()),
            code=transfer.division_code,
        )
    student.establishment = target
    student.division = division
    if transfer.registry_id:
        student.registry_id = transfer.registry_id
    student.save(update_fields=["establishment", "division", "registry_id"])


# --- Queries ------------------------------------------------------------------------------


def incoming(user: User, establishment: Establishment) -> tuple[list, list]:
    """Requests for pupils of ``establishment``: pending ones, then the latest decided."""
    authz.authorize(user, Right.ADMINISTRATION, establishment)
    qs = TransferRequest.objects.filter(from_establishment=establishment).select_related(
        "student__account__user",
        "student__division",
        "to_establishment",
        "requested_by",
        "decided_by",
    )
    pending = list(qs.filter(state=TransferRequest.State.PENDING).order_by("created_at", "pk"))
    decided = list(
        qs.exclude(state=TransferRequest.State.PENDING).order_by("-decided_at", "-pk")[:HISTORY]
    )
    return pending, decided


def outgoing(user: User, establishment: Establishment) -> QuerySet[TransferRequest]:
    """Requests ``establishment`` sent. Only its own file's words (``label``) and the
    state are meant for display: never the pupil's record nor the other establishment."""
    authz.authorize(user, Right.ADMINISTRATION, establishment)
    return (
        TransferRequest.objects.filter(to_establishment=establishment)
        .only("pk", "label", "state", "created_at", "decided_at", "to_establishment_id")
        .order_by("-created_at", "-pk")[:HISTORY]
    )


def pending_counts(establishment_ids: list[int]) -> dict[int, int]:
    """Establishment id -> pending requests for its pupils (portal tile)."""
    if not establishment_ids:
        return {}
    rows = (
        TransferRequest.objects.filter(
            from_establishment_id__in=establishment_ids, state=TransferRequest.State.PENDING
        )
        .values("from_establishment_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["from_establishment_id"]: row["n"] for row in rows}


def all_pending() -> QuerySet[TransferRequest]:
    """Every pending request (academy)."""
    return (
        TransferRequest.objects.filter(state=TransferRequest.State.PENDING)
        .select_related(
            "student__account__user", "student__division", "from_establishment", "to_establishment"
        )
        .order_by("created_at", "pk")
    )
