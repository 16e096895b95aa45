"""Records for the fault and load tests, run inside the application's own process (see servers.python).

The demo (`manage.py load_demo`) supplies the bulk; this adds the login users the tests need, and, while
there is no demo loader yet, a few hundred customers with visits, test drives and orders made through
the services, so that every KPI family has something to count.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction

from customers.services import customer_create
from dealership.models import DealerGroup, Dealership, Role, User
from sales.services import order_create, test_drive_create, visit_create
from tests.reliability.servers import OPS_CONSULTANT, OPS_MANAGER, OPS_PASSWORD


def ops_users(store: Dealership) -> tuple[User, User]:
    users = []
    for username, role in ((OPS_MANAGER, Role.MANAGER), (OPS_CONSULTANT, Role.CONSULTANT)):
        user, _ = User.objects.update_or_create(username=username,
                                                defaults={"role": role, "dealership": store, "name": username})
        user.set_password(OPS_PASSWORD)
        user.save()
        users.append(user)
    return users[0], users[1]


def seed(*, customers: int = 0, seed_value: int = 7) -> None:
    store = Dealership.objects.order_by("id").first()
    if store is None:
        group, _ = DealerGroup.objects.get_or_create(name="运维测试集团")
        store = Dealership.objects.create(group=group, code="OPS001", name="运维测试店", city="Hangzhou")
    manager, consultant = ops_users(store)
    rng = random.Random(seed_value)
    tz = store.tzinfo
    start = dt.datetime(2025, 1, 1, 9, tzinfo=tz)
    for i in range(customers):
        at = start + dt.timedelta(days=rng.randrange(180), hours=rng.randrange(10))
        with transaction.atomic():
            customer = customer_create(dealership=store, name=f"客户{i}", phone=f"139{i:08d}",
                                       source=rng.choice(["walk_in", "phone", "online", "event"]),
                                       consultant=consultant if i % 2 else None, created_at=at, by=manager)
            if rng.random() < 0.7:
                visit_create(dealership=store, kind="showroom", occurred_at=at + dt.timedelta(days=1),
                             customer=customer, consultant=consultant)
            if rng.random() < 0.4:
                test_drive_create(customer=customer, occurred_at=at + dt.timedelta(days=2), consultant=consultant)
            if rng.random() < 0.2:
                price = Decimal(rng.randrange(90_000, 260_000))
                order_create(customer=customer, ordered_at=at + dt.timedelta(days=5), consultant=consultant,
                             price=price, gross_profit=(price * Decimal("-0.04")).quantize(Decimal("1")),
                             oem_rebate=(price * Decimal("0.055")).quantize(Decimal("1")),
                             delivered_at=at + dt.timedelta(days=9))
