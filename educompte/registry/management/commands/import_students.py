import sys
import time

from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.registry.parsers import BadFile, open_source, read_nomenclature
from educompte.registry.services import MassDeactivation, run_import
from educompte.schools.models import Establishment
from educompte.schools.services import get_by_uai


class Command(BaseCommand):
    # The system checks (URLs, every app's models) cost half a second at each run and are
    # not what an import needs: `educompte check` and `migrate` run them.
    requires_system_checks: list[str] = []
    help = (
        "Import pupils from a SIECLE export (ElevesSansAdresses.xml) or a CSV file: "
        "educompte import-students FILE --uai UAI [--nomenclature FILE] [--dry-run] "
        "[--partial] [--allow-deactivations N]"
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
        parser.add_argument(
            "--allow-deactivations",
            type=int,
            metavar="N",
            help=(
                "confirm a mass deactivation: the import may deactivate up to N accounts "
                "(needed above 5%% of the live accounts or 20; --dry-run tells the number)"
            ),
        )

    def handle(
        self, *args, file, uai, nomenclature, dry_run, partial, allow_deactivations, **options
    ):
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
                allow_deactivations=allow_deactivations,
                progress=self._progress if sys.stderr.isatty() else None,
            )
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {exc.filename}") from exc
        except MassDeactivation as exc:
            raise CommandError(
                f"{file}: import refused, nothing was written: it would deactivate "
                f"{exc.count} accounts of {establishment.uai}, more than an import does "
                "unasked (5% of the live accounts or 20). If the file is right, run again "
                f"with --allow-deactivations {exc.count}; if it lists only part of the "
                "pupils, use --partial."
            ) from exc
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
        if dry_run and report.mass_deactivation:
            self.stdout.write(
                f"the real run needs --allow-deactivations {report.deactivated} "
                f"(more than {report.deactivation_limit} deactivations)"
            )

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
