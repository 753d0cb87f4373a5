import sys
import time

from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.registry.parsers import BadFile, open_source, read_nomenclature
from educompte.registry.services import run_import
from educompte.schools.models import Establishment
from educompte.schools.services import get_by_uai


class Command(BaseCommand):
    # The system checks (URLs, every app's models) cost half a second at each run and are
    # not what an import needs: `educompte check` and `migrate` run them.
    requires_system_checks: list[str] = []
    help = (
        "Import pupils from a SIECLE export (ElevesSansAdresses.xml) or a CSV file: "
        "educompte import-students FILE --uai UAI [--nomenclature FILE] [--dry-run]"
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--uai", required=True)
        parser.add_argument("--nomenclature", help="SIECLE nomenclature export (MEF labels)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="the file is not a complete export: do not deactivate the pupils it does not list",
        )

    def handle(self, *args, file, uai, nomenclature, dry_run, partial, **options):
        try:
            establishment = get_by_uai(uai)
        except Establishment.DoesNotExist as exc:
            raise CommandError(f"unknown establishment {uai!r}") from exc
        try:
            labels = read_nomenclature(nomenclature) if nomenclature else None
            source = open_source(file, file, labels)
            report = run_import(
                authz.OPERATOR,
                establishment,
                source,
                complete=not partial,
                dry_run=dry_run,
                progress=self._progress if sys.stderr.isatty() else None,
            )
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {exc.filename}") from exc
        except BadFile as exc:
            lines = [f"{file}: import refused, nothing was written ({exc.total} problem(s)):"]
            lines += [f"  {p.ref}: {p.reason}" for p in exc.problems[:50]]
            if exc.total > 50:
                lines.append(f"  … and {exc.total - 50} more")
            raise CommandError("\n".join(lines)) from exc
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        if dry_run:
            self.stdout.write("dry run: nothing was written")
        self.stdout.write(report.summary_line())

    _last = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} pupils")
        sys.stderr.flush()
