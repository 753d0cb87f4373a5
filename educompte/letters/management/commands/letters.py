import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from educompte.accounts import authz
from educompte.letters.services import (
    DEFAULT_SIGN_IN_URL,
    FORMATS,
    export_credentials_csv,
    issue_letters,
)
from educompte.schools.models import Division, Establishment, school_year_of
from educompte.schools.services import get_by_uai


def _write_private(path: str, data: bytes) -> None:
    """The files hold passwords: readable by their owner only when we create them."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class Command(BaseCommand):
    help = (
        "Print the credential letters of an establishment or one of its classes: "
        "educompte letters --uai UAI [--class CODE] --format page|cards -o FILE.pdf "
        "[--csv FILE.csv] [--sign-in-url URL]"
    )

    def add_arguments(self, parser):
        parser.add_argument("--uai", required=True, help="UAI with its check letter")
        parser.add_argument(
            "--class",
            dest="division",
            metavar="CODE",
            help="class code of the current school year, e.g. 3A",
        )
        parser.add_argument(
            "--format",
            dest="fmt",
            default="page",
            metavar="page|cards",
            help="page: one A4 page per pupil; cards: eight cards per A4 page",
        )
        parser.add_argument(
            "-o", "--output", required=True, metavar="FILE.pdf", help="PDF file to write"
        )
        parser.add_argument(
            "--csv", metavar="FILE.csv", help="also write the credentials as CSV to this file"
        )
        parser.add_argument(
            "--sign-in-url",
            default=DEFAULT_SIGN_IN_URL,
            metavar="URL",
            help=f"pupils' sign-in page printed on the letters (default {DEFAULT_SIGN_IN_URL})",
        )

    def handle(self, *args, uai, division, fmt, output, csv, sign_in_url, **options):
        # Checked here rather than by argparse: call_command() skips the choices.
        if fmt not in FORMATS:
            raise CommandError(f"unknown format {fmt!r}: choose {' or '.join(FORMATS)}")
        try:
            establishment = get_by_uai(uai)
        except Establishment.DoesNotExist as exc:
            raise CommandError(f"unknown establishment {uai!r}") from exc
        target = None
        if division:
            year = school_year_of(timezone.localdate())
            target = Division.objects.filter(
                establishment=establishment, school_year=year, code=division.strip()
            ).first()
            if target is None:
                raise CommandError(
                    f"unknown class {division!r} in {establishment.uai} "
                    f"for the school year {year}-{year + 1}"
                )
        for path in filter(None, (output, csv)):
            if not Path(path).parent.is_dir():
                raise CommandError(f"cannot write {path}: no such directory")
        try:
            # The accounts are only marked informed if the files could be written.
            with transaction.atomic():
                result = issue_letters(
                    authz.OPERATOR,
                    establishment,
                    division=target,
                    fmt=fmt,
                    sign_in_url=sign_in_url,
                )
                rows = (
                    export_credentials_csv(authz.OPERATOR, establishment, division=target)
                    if csv
                    else None
                )
                _write_private(output, result.pdf)
                if csv:
                    _write_private(csv, rows)
        except (OSError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"letters: {result.count} pupils written to {output} "
            f"({result.skipped_activated} activated accounts left out)"
        )
        if csv:
            self.stdout.write(f"credentials: written to {csv}")
