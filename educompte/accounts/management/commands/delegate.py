import datetime

from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.accounts.models import Right, User
from educompte.accounts.services import delegate
from educompte.schools.models import Establishment
from educompte.schools.services import get_by_uai


class Command(BaseCommand):
    help = (
        "Delegate a right: educompte delegate LOGIN --uai UAI "
        "--right depannage|administration --until YYYY-MM-DD"
    )

    def add_arguments(self, parser):
        parser.add_argument("login")
        parser.add_argument("--uai", required=True)
        parser.add_argument("--right", required=True, choices=Right.values)
        parser.add_argument("--until", required=True, help="last day of the delegation, YYYY-MM-DD")

    def handle(self, *args, login, uai, right, until, **options):
        try:
            end = datetime.date.fromisoformat(until)
        except ValueError as exc:
            raise CommandError(f"--until {until!r} is not a date YYYY-MM-DD") from exc
        try:
            establishment = get_by_uai(uai)
        except Establishment.DoesNotExist as exc:
            raise CommandError(f"unknown establishment {uai!r}") from exc
        agent = User.objects.filter(username=login.strip().lower(), kind=User.Kind.AGENT).first()
        if agent is None:
            raise CommandError(f"unknown agent {login!r}")
        try:
            delegation = delegate(agent, establishment, right, end=end, granted_by=authz.OPERATOR)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{agent.username}: {right} on {establishment.uai} until {delegation.end.isoformat()}"
        )
