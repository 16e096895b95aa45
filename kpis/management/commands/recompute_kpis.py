"""python manage.py recompute_kpis [--dealership CODE ...] [--period YYYY-MM ...] [--stale]"""
from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from dealership.models import Dealership
from kpis import services


class Command(BaseCommand):
    help = "Recompute KPI values: all stores and months with data, or the ones named, or only the stale months."

    def add_arguments(self, parser):
        parser.add_argument("--dealership", action="append", default=[], metavar="CODE",
                            help="A store's dealer code (repeatable). Default: every store.")
        parser.add_argument("--period", action="append", default=[], metavar="YYYY-MM",
                            help="A month (repeatable). Default: every month with data.")
        parser.add_argument("--stale", action="store_true", help="Only the months marked stale since the last run.")

    def handle(self, *args, dealership: list[str], period: list[str], stale: bool, **options):
        started = time.perf_counter()
        if stale:
            written = services.stale_months_recompute()
        else:
            ids = None
            if dealership:
                found = dict(Dealership.objects.filter(code__in=dealership).values_list("code", "pk"))
                missing = sorted(set(dealership) - found.keys())
                if missing:
                    raise CommandError(f"Unknown dealer code(s): {', '.join(missing)}")
                ids = list(found.values())
            try:
                periods = [dt.date.fromisoformat(f"{p}-01") for p in period] or None
            except ValueError as exc:
                raise CommandError(f"--period must be YYYY-MM: {exc}") from exc
            written = services.recompute(dealership_ids=ids, periods=periods)
        self.stdout.write(f"{written} rows written in {time.perf_counter() - started:.2f} s")
