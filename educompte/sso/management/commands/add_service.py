from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from educompte.accounts import authz
from educompte.sso import scopes as sso_scopes
from educompte.sso import services


class Command(BaseCommand):
    help = (
        "Register a school service (OpenID Connect client): educompte add-service NAME "
        "--redirect-uri URI [--redirect-uri URI ...] [--scope SCOPE ...]. Prints the client "
        "id and the client secret, which is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            required=True,
            dest="redirect_uris",
            help="callback URL of the service, matched exactly (repeat for several)",
        )
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            choices=list(sso_scopes.SCOPES),
            help="data the service may receive (repeatable; openid is always given)",
        )
        parser.add_argument("--home-url", default="", help="page listed in « Mes services »")
        parser.add_argument(
            "--post-logout-redirect-uri",
            action="append",
            default=[],
            dest="post_logout_redirect_uris",
            help="where the service may send the pupil back after logout (repeatable)",
        )

    def handle(self, *args, name, redirect_uris, scopes, home_url, post_logout_redirect_uris, **o):
        try:
            registered = services.register_service(
                name,
                redirect_uris,
                scopes,
                home_url=home_url,
                post_logout_redirect_uris=post_logout_redirect_uris,
                by=authz.OPERATOR,
            )
        except ValidationError as exc:
            problems = [
                f"{field.replace('_', ' ')}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
            raise CommandError("service refused: " + "; ".join(problems)) from exc
        service = registered.service
        self.stdout.write(f"service registered: {service.name}")
        self.stdout.write(f"client id:     {service.application.client_id}")
        self.stdout.write(f"client secret: {registered.client_secret}")
        self.stdout.write(f"scopes:        {' '.join(service.scopes)}")
        self.stdout.write("Keep the secret now: only its hash is stored, it cannot be shown again.")
