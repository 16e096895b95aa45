"""factory-boy factories for every model. Records are built through plain model saves: tests of the
lifecycle call the services themselves, so that a factory never hides a rule."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from aftersales.models import Callback, ServiceVisit
from campaigns.models import Campaign, CampaignCost, TrafficPlan
from customers.models import Customer, StageChange
from dealership.models import DealerGroup, Dealership, Role, StaleMonth, User
from kpis.models import (CampaignMetric, ChannelValue, KpiAlert, KpiTarget, KpiValue, MarketData, RecomputeJob,
                         SatisfactionScore)
from sales.models import Order, TestDrive, Visit

T0 = dt.datetime(2025, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


class DealerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealerGroup
        django_get_or_create = ["name"]

    name = "浙江汇通汽车集团"


class DealershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dealership

    group = factory.SubFactory(DealerGroupFactory)
    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"丰田{n}店")
    city = "Hangzhou"
    brand = "Toyota"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"员工{n}")
    role = Role.CONSULTANT
    dealership = factory.SubFactory(DealershipFactory)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    dealership = factory.SubFactory(DealershipFactory)
    name = factory.Sequence(lambda n: f"活动{n}")
    channel = "event"
    starts_on = dt.date(2025, 3, 1)
    ends_on = dt.date(2025, 3, 7)
    fixed_cost = Decimal("40000")
    variable_cost_per_attendee = Decimal("200")
    planned_attendees = 120


class CampaignCostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignCost

    campaign = factory.SubFactory(CampaignFactory)
    incurred_on = dt.date(2025, 3, 2)
    amount = Decimal("10000")
    category = "media"


class TrafficPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrafficPlan

    dealership = factory.SubFactory(DealershipFactory)
    period = dt.date(2025, 3, 1)
    planned_traffic = 500


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    dealership = factory.SubFactory(DealershipFactory)
    name = factory.Sequence(lambda n: f"客户{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    source = "walk_in"
    created_at = T0
    entered_market_at = factory.SelfAttribute("created_at")


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    customer = factory.SubFactory(CustomerFactory)
    from_stage = "market"
    to_stage = "potential"
    at = T0


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    dealership = factory.SubFactory(DealershipFactory)
    kind = "showroom"
    occurred_at = T0


class TestDriveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestDrive

    customer = factory.SubFactory(CustomerFactory)
    dealership = factory.SelfAttribute("customer.dealership")
    occurred_at = T0
    model = "RAV4"


TestDriveFactory.__test__ = False  # a factory, not a test class (its domain name starts with "Test")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    dealership = factory.SelfAttribute("customer.dealership")
    model = "Camry"
    ordered_at = T0
    price = Decimal("150000")
    gross_profit = Decimal("-6000")
    oem_rebate = Decimal("8250")


class ServiceVisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceVisit
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    dealership = factory.SelfAttribute("customer.dealership")
    kind = "maintenance"
    opened_at = T0
    closed_at = factory.LazyAttribute(lambda o: o.opened_at + dt.timedelta(hours=4))
    revenue = Decimal("1100")

    @factory.post_generation
    def kept_dates(obj, create, extracted, **kwargs):
        """The customer's first and latest visits, as aftersales.services keep them."""
        if create:
            from aftersales.services import customers_service_dates_refresh
            customers_service_dates_refresh(Customer.objects.filter(pk=obj.customer_id))


class CallbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Callback
        skip_postgeneration_save = True

    order = factory.SubFactory(OrderFactory, delivered_at=T0)
    dealership = factory.SelfAttribute("order.dealership")
    completed_at = T0 + dt.timedelta(days=1)
    reached = True

    @factory.post_generation
    def kept_first(obj, create, extracted, **kwargs):
        """The subject's first reached callback, as aftersales.services keep it."""
        if create:
            from aftersales.services import subjects_first_callback_refresh
            subjects_first_callback_refresh(orders=Order.objects.filter(pk=obj.order_id),
                                            service_visits=ServiceVisit.objects.filter(pk=obj.service_visit_id))


class KpiValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiValue

    dealership = factory.SubFactory(DealershipFactory)
    period = dt.date(2025, 3, 1)
    code = "traffic"
    value = 500.0
    computed_at = factory.LazyFunction(timezone.now)


class ChannelValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelValue

    dealership = factory.SubFactory(DealershipFactory)
    period = dt.date(2025, 3, 1)
    channel = "event"


class CampaignMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignMetric

    campaign = factory.SubFactory(CampaignFactory)
    code = "cost"
    value = 40000.0


class KpiTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiTarget

    code = "traffic_achievement"
    target = 0.9
    control_line = 0.8
    direction = "higher"


class KpiAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiAlert

    dealership = factory.SubFactory(DealershipFactory)
    code = "traffic_achievement"
    period = dt.date(2025, 3, 1)
    value = 0.5


class MarketDataFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketData

    dealership = factory.SubFactory(DealershipFactory)
    period = dt.date(2025, 3, 1)
    city_brand_sales = 310
    city_brand_stores = 4
    market_parc = 42000


class SatisfactionScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SatisfactionScore

    survey = "csi"
    period = dt.date(2025, 3, 1)
    dealer_code = factory.Sequence(lambda n: f"X{n:03d}")
    score = Decimal("93.5")


class StaleMonthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaleMonth

    dealership = factory.SubFactory(DealershipFactory)
    period = dt.date(2025, 3, 1)


class RecomputeJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecomputeJob

    task_id = factory.Sequence(lambda n: f"task-{n}")
