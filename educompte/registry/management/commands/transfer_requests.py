from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from educompte.accounts import authz
from educompte.registry import transfers
from educompte.registry.models import TransferRequest


class Command(BaseCommand):
    help = (
        "Requests of establishments for pupils still current in another one: list the "
        "pending ones, or decide for the academy: "
        "educompte transfer-requests [--accept ID | --refuse ID]"
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--accept", type=int, metavar="ID", help="move the pupil")
        group.add_argument("--refuse", type=int, metavar="ID", help="the pupil stays")

    def handle(self, *args, accept: int | None, refuse: int | None, **options):
        if accept is None and refuse is None:
            self._list()
            return
        transfer_id = accept if accept is not None else refuse
        try:
            outcome = transfers.decide(authz.OPERATOR, transfer_id, accept=accept is not None)
        except TransferRequest.DoesNotExist as exc:
            raise CommandError(f"no transfer request {transfer_id}") from exc
        if outcome == transfers.Outcome.ALREADY_DECIDED:
            raise CommandError(f"transfer request {transfer_id} was already decided")
        if outcome == transfers.Outcome.OBSOLETE:
            raise CommandError(
                f"transfer request {transfer_id} is moot: the pupil is no longer in the "
                "establishment asked"
            )
        self.stdout.write(f"transfer request {transfer_id} {outcome}")

    def _list(self) -> None:
        rows = list(transfers.all_pending())
        for t in rows:
            when = timezone.localtime(t.created_at).strftime("%Y-%m-%d %H:%M")
            self.stdout.write(
                f"{t.pk}\t{when}\t{t.from_establishment.uai} -> {t.to_establishment.uai}\t"
                f"{t.student.account.identifier}\t{t.student.last_name} {t.student.first_name}"
            )
        self.stdout.write(f"{len(rows)} pending transfer request(s)")
