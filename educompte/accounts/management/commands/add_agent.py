import getpass
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.accounts.services import add_agent
from educompte.schools.models import Establishment
from educompte.schools.services import get_by_uai


class Command(BaseCommand):
    help = (
        "Create a staff agent: educompte add-agent LOGIN --uai UAI --role head|staff "
        "[--password-stdin], or an academy administrator with --role academy"
    )

    def add_arguments(self, parser):
        parser.add_argument("login")
        parser.add_argument("--uai", help="establishment (required for head and staff)")
        parser.add_argument("--role", choices=["head", "staff", "academy"], required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (first line) instead of prompting",
        )

    def handle(self, *args, login, uai, role, first_name, last_name, password_stdin, **options):
        establishment = None
        if role in ("head", "staff"):
            if not uai:
                raise CommandError(f"--uai is required for --role {role}")
            try:
                establishment = get_by_uai(uai)
            except Establishment.DoesNotExist as exc:
                raise CommandError(f"unknown establishment {uai!r}") from exc
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the two passwords differ")
        else:
            password = ""
        if password:
            try:
                password_validation.validate_password(password)
            except ValidationError as exc:
                raise CommandError("password refused: " + " ".join(exc.messages)) from exc
        try:
            agent = add_agent(
                login,
                password=password or None,
                establishment=establishment,
                role=role,
                first_name=first_name,
                last_name=last_name,
                actor=authz.OPERATOR,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        where = f" on {establishment.uai}" if establishment else ""
        self.stdout.write(f"agent {agent.username}: {role}{where}")
        if not password:
            self.stdout.write("no password set: the agent cannot sign in until one is given")
