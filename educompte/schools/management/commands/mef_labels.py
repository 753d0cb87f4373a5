from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.registry.parsers import BadFile, read_nomenclature
from educompte.schools.services import set_mef_labels


class Command(BaseCommand):
    help = (
        "Set the shared MEF labels from the academy's SIECLE nomenclature export "
        "(imports of establishments never rename a MEF): educompte mef-labels Nomenclature.xml"
    )

    def add_arguments(self, parser):
        parser.add_argument("nomenclature", help="SIECLE nomenclature export (Nomenclature.xml)")

    def handle(self, *args, nomenclature: str, **options):
        try:
            labels = read_nomenclature(nomenclature)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {exc.filename}") from exc
        except BadFile as exc:
            lines = [f"{nomenclature}: refused, nothing was written:"]
            lines += [f"  {p.ref}: {p.reason}" for p in exc.problems[:50]]
            raise CommandError("\n".join(lines)) from exc
        changed, created = set_mef_labels(labels, by=authz.OPERATOR)
        self.stdout.write(f"labels changed {changed}, created {created}")
