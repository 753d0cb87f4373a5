from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from educompte.core.links import absolute_reverse
from educompte.demo.services import (
    DEMO_PASSWORD,
    ZOE,
    NotADemoDatabase,
    demo_agents,
    ensure_demo_service,
    load_demo,
)
from educompte.demo.services import (
    write_files as write_demo_files,
)


class Command(BaseCommand):
    help = "Load the demonstration data (idempotent; refuses a database with real data)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--write-files",
            action="store_true",
            help="regenerate the SIECLE files shipped in educompte/demo/data/ and stop",
        )
        parser.add_argument(
            "--service-origin",
            action="append",
            default=[],
            dest="service_origins",
            metavar="ORIGIN",
            help="also register the demo service for this origin, e.g. http://127.0.0.1:8010",
        )

    def handle(self, *args, write_files: bool = False, service_origins=(), **options):
        if write_files:
            for name in write_demo_files():
                self.stdout.write(f"wrote educompte/demo/data/{name}")
            return
        try:
            summary = load_demo(stdout=self.stdout)
        except NotADemoDatabase as exc:
            raise CommandError(str(exc)) from exc
        try:
            service = ensure_demo_service([o.rstrip("/") for o in service_origins])
        except ValidationError as exc:
            raise CommandError("--service-origin refused: " + " ".join(exc.messages)) from exc
        self.stdout.write("demo loaded" if summary.created else "demo already loaded: unchanged")
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all agents: {DEMO_PASSWORD})")
        self.stdout.write(f"  staff portal: {absolute_reverse('portal:index')}")
        for login, what in demo_agents():
            self.stdout.write(f"    {login:<20} {what}")
        self.stdout.write(f"  pupil sign-in: {absolute_reverse('pupil:login')}")
        password = summary.zoe_password or "(activated: reset it in Dépannage)"
        self.stdout.write(
            f"    {summary.zoe_identifier:<20} {ZOE['first_name']} {ZOE['last_name']}, 3A, "
            f"born {ZOE['birth_date']:%d/%m/%Y}, provisional password {password}"
        )
        self.stdout.write("")
        self.stdout.write(
            f"Demo service « {service.name} » (OpenID Connect client id "
            f"{service.application.client_id}, signs pupils in with Educompte):"
        )
        for callback in service.redirect_uris:
            self.stdout.write(f"  {callback.removesuffix('callback/')}")
