from django.conf import settings
from django.core.management.base import BaseCommand

from educompte.registry.jobs import discard_stale
from educompte.registry.services import purge_departed


class Command(BaseCommand):
    help = "Erase the personal data of pupils who left more than the retention period ago."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.EDUCOMPTE_RETENTION_DAYS)

    def handle(self, *args, days, **options):
        count = purge_departed(days)
        self.stdout.write(f"erased {count} departed pupil(s) (left more than {days} days ago)")
        stale = discard_stale()
        if stale:
            self.stdout.write(f"discarded {stale} import preview(s) never confirmed")
