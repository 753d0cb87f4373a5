from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from educompte.sso import keys


class Command(BaseCommand):
    help = (
        "Replace the key that signs ID tokens. The old key stays published in the JWKS "
        "until the tokens it signed have expired. Restart Educompte afterwards."
    )

    def handle(self, *args, **options):
        try:
            rotation = keys.rotate(settings.VAR_DIR, retention=settings.OIDC_RETIRED_KEY_SECONDS)
        except keys.KeysFromEnvironment as exc:
            raise CommandError(
                f"the signing key comes from {keys.ENV_KEY}: put the new key there and the "
                f"old one in {keys.ENV_INACTIVE}, then restart Educompte"
            ) from exc
        hours = settings.OIDC_RETIRED_KEY_SECONDS / 3600
        self.stdout.write(f"new signing key:     {rotation.new_kid}")
        self.stdout.write(
            f"retired signing key: {rotation.retired_kid} (published {hours:g} h more)"
        )
        if rotation.deleted:
            self.stdout.write(f"deleted {rotation.deleted} retired key(s) past their retention")
        self.stdout.write("Restart the Educompte processes so that they sign with the new key.")
