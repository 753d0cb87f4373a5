from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.schools.services import add_establishment


class Command(BaseCommand):
    help = "Create an establishment: educompte add-establishment UAI NAME"

    def add_arguments(self, parser):
        parser.add_argument("uai", help="UAI with its check letter, e.g. 0380001V")
        parser.add_argument("name", help="establishment name")

    def handle(self, *args, uai: str, name: str, **options):
        try:
            establishment = add_establishment(uai, name, actor=authz.OPERATOR)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created establishment {establishment.uai} {establishment.name}")
