"""python manage.py import_records KIND FILE [--dealership CODE] [--dry-run]"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from dealership.models import Dealership, User
from imports.kinds import KINDS
from imports.services import import_run


class Command(BaseCommand):
    help = ("Import a CSV or .xlsx export of one kind of records; prints the report. "
            "Nothing is written if any row is bad.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file")
        parser.add_argument("--dealership", metavar="CODE", help="the store of rows without a store column")
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--user", metavar="USERNAME", help="import as this user (his stores and rights); "
                                                                 "default: any store")
        parser.add_argument("--method", choices=["auto", "rows", "copy"], default="auto",
                            help="rows: through the services row by row; copy: set-based on PostgreSQL "
                                 "(service visits); auto picks copy for big files")
        parser.add_argument("--bad-rows", metavar="PATH", help="write the bad rows, with an error column, here")
        parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"])

    def handle(self, *args, **options) -> None:
        dealership = None
        if options["dealership"]:
            dealership = Dealership.objects.filter(code=options["dealership"]).first()
            if dealership is None:
                raise CommandError(f"Unknown dealer code {options['dealership']}")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"Unknown user {options['user']}")
        with translation.override(options["language"]):
            report = import_run(kind=options["kind"], path=options["file"], dealership=dealership, user=user,
                                dry_run=options["dry_run"], method=options["method"],
                                bad_rows_path=options["bad_rows"])
            self.stdout.write(report.as_text())
        if not report.ok:
            raise CommandError("import rejected")
