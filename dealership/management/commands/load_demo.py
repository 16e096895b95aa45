"""python manage.py load_demo [--if-empty] [--seed N] [--months 24] [--size 1.0]
python manage.py load_demo --scale --stores 50 --months 36 [--customers-per-store 40000]

The demo: a dealer group of three stores (杭州, 宁波, 绍兴) with two years of history up to this month,
simulated from shared/spec/demo-data.md, then its KPIs computed, and a login for every role printed.
`--scale` writes the benchmark data set instead (dealership/demo/scale.py, docs/benchmarks.md).
"""
from __future__ import annotations

import time

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dealership.demo import history as demo_history
from dealership.demo import writer
from dealership.models import Dealership, Role, User

STAFF_PASSWORD = "Huitong-4S-2026"
ADMIN_PASSWORD = "Guanli-4S-2026"


class Command(BaseCommand):
    help = "Load the demo dealer group (three stores, two years), or with --scale a large benchmark data set."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when the database already has stores (make run, second time).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--months", type=int, default=None,
                            help="Months of history up to this month (default 24; 36 with --scale).")
        parser.add_argument("--size", type=float, default=1.0,
                            help="Demo only: scale every store's volumes (default 1.0 = the spec's store).")
        parser.add_argument("--password", default=STAFF_PASSWORD, help="Password of every demo login.")
        parser.add_argument("--no-kpis", action="store_true", help="Skip the KPI recompute at the end.")
        scale = parser.add_argument_group("benchmark data (--scale)")
        scale.add_argument("--scale", action="store_true", help="Write the benchmark data set, not the demo.")
        scale.add_argument("--stores", type=int, default=50, help="Stores of the benchmark group (default 50).")
        scale.add_argument("--customers-per-store", type=int, default=40_000,
                           help="Customers a store (default 40000: 2 M for 50 stores).")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and Dealership.objects.exists():
            self.stdout.write("The database already has stores: demo not loaded (--if-empty).")
            return
        for value, name in [(options["months"], "--months"), (options["stores"], "--stores"),
                            (options["customers_per_store"], "--customers-per-store")]:
            if value is not None and value < 1:
                raise CommandError(f"{name} must be at least 1.")
        if options["size"] <= 0:
            raise CommandError("--size must be above 0.")
        started = time.perf_counter()
        if options["scale"]:
            self._scale(options, started)
        else:
            self._demo(options, started)

    def _say(self, started: float, message: str) -> None:
        self.stdout.write(f"[{time.perf_counter() - started:6.1f} s] {message}")

    def _demo(self, options: dict, started: float) -> None:
        codes = [s[0] for s in demo_history.DEMO_STORES]
        taken = list(Dealership.objects.filter(code__in=codes).values_list("code", flat=True))
        if taken:
            raise CommandError(f"The demo stores already exist ({', '.join(taken)}): load the demo into an "
                               "empty database, or pass --if-empty to skip.")
        self._check_passwords(options["password"])
        history = demo_history.simulate(seed=options["seed"], months=options["months"] or 24, size=options["size"])
        self._say(started, f"simulated {len(history.customers)} customers, {len(history.events)} events")
        written = writer.write_history(history, staff_password=options["password"], admin_password=ADMIN_PASSWORD,
                                       progress=lambda m: self._say(started, f"wrote {m}"))
        store_ids = list(written.stores.values())
        if not options["no_kpis"]:
            periods = demo_history.month_starts(history.start, history.now.date())
            self._kpis(store_ids, periods, started)
            self._plans(store_ids, started)
        self._say(started, "done")
        self._print_logins(store_ids, options["password"])

    def _scale(self, options: dict, started: float) -> None:
        from dealership.demo import scale

        self._check_passwords(options["password"])
        result = scale.generate(stores=options["stores"], months=options["months"] or 36,
                                customers_per_store=options["customers_per_store"], seed=options["seed"],
                                password=options["password"], progress=lambda m: self._say(started, m))
        self._say(started, "done: " + ", ".join(f"{n} {table}" for table, n in result.counts.items()))

    def _check_passwords(self, password: str) -> None:
        # The printed logins must work on a site whose validators refuse weak passwords.
        for username, pw in [("hz_manager", password), ("admin", ADMIN_PASSWORD)]:
            try:
                validate_password(pw, User(username=username))
            except ValidationError as exc:
                raise CommandError(f"--password is too weak: {' '.join(exc.messages)}") from exc

    def _kpis(self, store_ids: list[int], periods: list, started: float) -> None:
        """Default targets and the KPI tables, so that the dashboards have figures from the start."""
        try:
            from kpis import services as kpi_services
        except ImportError:  # the KPI app is being built alongside: the demo must load without it
            self._say(started, "kpis.services not available: KPIs not computed")
            return
        seed = getattr(kpi_services, "kpi_defaults_seed", None)
        if seed is not None:
            seed()
        recompute = getattr(kpi_services, "recompute", None)
        if recompute is None:
            self._say(started, "kpis.services.recompute not available: run `manage.py recompute_kpis` later")
            return
        rows = recompute(dealership_ids=store_ids, periods=periods)
        self._say(started, f"computed KPIs: {rows} rows")

    def _plans(self, store_ids: list[int], started: float) -> None:
        """Last month's and this month's marketing plan per store (plans.demo), when that app has them."""
        try:
            from plans.demo import demo_plans_create
        except ImportError:
            return
        self._say(started, f"wrote {demo_plans_create(store_ids)} marketing plans")

    def _print_logins(self, store_ids: list[int], password: str) -> None:
        roles = dict(Role.choices)
        self.stdout.write("\nLogins (http://127.0.0.1:8000/accounts/login/):")
        self.stdout.write(f"  {'username':<16} {'password':<18} {'role':<18} store")
        self.stdout.write(f"  {'admin':<16} {ADMIN_PASSWORD:<18} {'superuser':<18} (all, and /admin/)")
        users = (User.objects.filter(dealership_id__in=store_ids) | User.objects.filter(role=Role.GROUP_MANAGER,
                 username="group")).select_related("dealership").order_by("dealership__code", "role", "username")
        shown: dict[tuple, int] = {}
        for user in users:
            key = (user.dealership_id, user.role)
            shown[key] = shown.get(key, 0) + 1
            if shown[key] > 2:  # two of each role per store is enough to try; the rest follow the pattern
                continue
            store = user.dealership.name if user.dealership else "集团 (all stores)"
            self.stdout.write(f"  {user.username:<16} {password:<18} {str(roles[user.role]):<18} {store}")
        self.stdout.write("  (more: <hz|nb|sx>_sales01..NN, _service1..N, _marketing1..2; same password)")
