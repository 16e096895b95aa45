"""Simulate a dealer group's history as dated events, from the parameters of `params`.

Each customer's life is drawn on its own (first contact, showroom visits, test drive, order, delivery,
callbacks, service visits until he churns, or a lost deal and perhaps a comeback), then every event
goes into one list sorted by time. `writer` turns that list into rows through `lifecycle`; the test
suite replays the same list through the services. Only what has happened by `now` is kept.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dealership.demo import params as P

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢傅钟"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建国志宏文斌浩宇轩欣怡晨子涵雨博俊凯佳琪"


@dataclass(slots=True)
class StoreSpec:
    key: int
    code: str
    name: str
    city: str
    size: float
    city_brand_sales: int       # the brand's registrations a month in the city
    city_brand_stores: int
    timezone: str = "Asia/Shanghai"


@dataclass(slots=True)
class StaffSpec:
    key: int
    store: int | None
    username: str
    name: str
    role: str


@dataclass(slots=True)
class CampaignSpec:
    key: int
    store: int
    name: str
    channel: str
    starts_on: dt.date
    ends_on: dt.date
    budget: Decimal
    fixed_cost: Decimal
    variable_cost_per_attendee: Decimal
    reach: int
    inquiries: int
    invited: int
    planned_attendees: int
    costs: list[tuple[dt.date, Decimal, str]] = field(default_factory=list)


@dataclass(slots=True)
class CustomerSpec:
    key: int
    store: int
    name: str
    phone: str
    source: str
    campaign: int | None
    consultant: int | None
    referred_by: int | None
    intent: str


@dataclass(slots=True)
class Event:
    """One dated event. `key` names the record it creates (visit, order...) or, for `deliver`, the order."""

    at: dt.datetime
    seq: int
    kind: str            # create visit test_drive order deliver service callback lost reactivate move
    store: int
    customer: int | None
    key: int = 0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class History:
    group_name: str
    start: dt.date
    now: dt.datetime
    stores: list[StoreSpec]
    staff: list[StaffSpec] = field(default_factory=list)
    campaigns: list[CampaignSpec] = field(default_factory=list)
    customers: list[CustomerSpec] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    traffic_plans: list[tuple[int, dt.date, int]] = field(default_factory=list)
    market_data: list[tuple[int, dt.date, int, int, int]] = field(default_factory=list)
    # (survey, period, region, dealer_code, dealer_name, score)
    surveys: list[tuple[str, dt.date, str, str, str, Decimal]] = field(default_factory=list)


DEMO_STORES = [
    # code, name, city, size, brand sales in the city a month, same-brand stores in the city
    ("ZJ-HZ01", "杭州汇通丰田", "杭州", 1.0, 440, 5),
    ("ZJ-NB01", "宁波汇通丰田", "宁波", 0.7, 250, 4),
    ("ZJ-SX01", "绍兴汇通丰田", "绍兴", 0.45, 130, 3),
]


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    months, d = [], start
    while d <= end:
        months.append(d)
        d = (d + dt.timedelta(days=32)).replace(day=1)
    return months


def window_start(today: dt.date, months: int) -> dt.date:
    """The first day of the month `months - 1` months before today's: a window of `months` months."""
    start = today.replace(day=1)
    for _ in range(months - 1):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start


def simulate(
    *, seed: int = 42, months: int = 24, now: dt.datetime | None = None, size: float = 1.0,
    stores: list[tuple] | None = None, group_name: str = "浙江汇通汽车集团",
) -> History:
    """The demo history: `months` months up to `now`, for the given stores (default: the three demo stores).

    `size` scales every store (tests use a small one). Deterministic for a given seed and `now`.
    """
    rng = random.Random(seed)
    stores = stores or DEMO_STORES
    specs = [StoreSpec(i, code, name, city, store_size * size, sales, n)
             for i, (code, name, city, store_size, sales, n) in enumerate(stores)]
    tz = zoneinfo.ZoneInfo(specs[0].timezone)
    now = (now or dt.datetime.now(tz)).astimezone(tz)
    start = window_start(now.date(), months)
    history = History(group_name=group_name, start=start, now=now, stores=specs)
    counter = _Counter()
    _staff_group(history, counter)
    for spec in specs:
        _StoreSim(history, spec, rng, counter).run()
    history.events = [e for e in history.events if e.at <= now]
    history.events.sort(key=lambda e: (e.at, e.seq))
    for event in history.events:  # a service visit closed after `now` is still open
        if event.kind == "service" and event.data["closed_at"] and event.data["closed_at"] > now:
            event.data["closed_at"] = None
    _surveys(history, rng)
    return history


class _Counter:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def next(self, name: str) -> int:
        self.values[name] = self.values.get(name, 0) + 1
        return self.values[name]


def _staff_group(history: History, counter: _Counter) -> None:
    history.staff.append(StaffSpec(counter.next("staff"), None, "group", "周集团", "group_manager"))


def _person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


class _StoreSim:
    """One store's history: staff, campaigns, plans, market data, and every customer's life."""

    def __init__(self, history: History, spec: StoreSpec, rng: random.Random, counter: _Counter) -> None:
        self.h, self.spec, self.rng, self.counter = history, spec, rng, counter
        self.tz = zoneinfo.ZoneInfo(spec.timezone)
        self.prefix = spec.code.split("-")[-1][:2].lower()
        self.buyers: list[tuple[dt.datetime, int]] = []   # (first order, customer) for referrals and repeats
        self.midnights: dict[dt.date, dt.datetime] = {}
        # The DMS import before the history: owners' orders and deliveries, and their service records of
        # the last months only (enough for the 12-month windows of the first KPI months).
        kept_from = window_start(history.start, P.SERVICE_HISTORY_MONTHS + 1)
        self.records_from = dt.datetime.combine(kept_from, dt.time(), self.tz)

    # --- small helpers ---
    def seq(self) -> int:
        return self.counter.next("event")

    def emit(self, at: dt.datetime, what: str, customer: int | None, key: int = 0, /, **data: Any) -> Event:
        event = Event(at, self.seq(), what, self.spec.key, customer, key, data)
        self.h.events.append(event)
        return event

    def count(self, mean: float) -> int:
        if mean <= 0:
            return 0
        return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))

    def local(self, day: dt.date, lo: float = 9.0, hi: float = 19.0) -> dt.datetime:
        # Kept in UTC: that is how the database stores them, so the writers need not convert.
        midnight = self.midnights.get(day)
        if midnight is None:
            midnight = self.midnights[day] = dt.datetime.combine(day, dt.time(), self.tz).astimezone(dt.UTC)
        return midnight + dt.timedelta(hours=self.rng.uniform(lo, hi))

    def day_in(self, month: dt.date, last: dt.date | None = None) -> dt.date:
        days = calendar.monthrange(month.year, month.month)[1]
        if last is not None and last.year == month.year and last.month == month.month:
            days = last.day
        while True:  # weekends bring more people to a showroom
            day = month.replace(day=self.rng.randint(1, days))
            if day.weekday() >= 5 or self.rng.random() < 0.6:
                return day

    def later(self, at: dt.datetime, lo_days: float, hi_days: float) -> dt.datetime:
        """A business-hours instant `lo_days`..`hi_days` after `at`, and always after it."""
        day = (at + dt.timedelta(days=self.rng.uniform(lo_days, hi_days))).astimezone(self.tz).date()
        return max(self.local(day), at + dt.timedelta(minutes=self.rng.randint(20, 120)))

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    # --- the store ---
    def run(self) -> None:
        size = self.spec.size
        self.staff(size)
        months = month_starts(self.h.start, self.h.now.date())
        self.campaigns(months)
        self.legacy_owners()
        for month in months:
            self.month(month)
        self.plans_and_market(months)

    def staff(self, size: float) -> None:
        def add(username: str, role: str) -> int:
            key = self.counter.next("staff")
            self.h.staff.append(StaffSpec(key, self.spec.key, username, _person_name(self.rng), role))
            return key

        self.manager = add(f"{self.prefix}_manager", "manager")
        self.marketing = [add(f"{self.prefix}_marketing{i + 1}", "marketing") for i in range(1 if size < 1 else 2)]
        n_consultants = max(3, round(P.CONSULTANTS_PER_STORE * size))
        self.consultants = [add(f"{self.prefix}_sales{i + 1:02d}", "consultant") for i in range(n_consultants)]
        skills = [self.rng.lognormvariate(0, P.CONSULTANT_SKILL_SIGMA) for _ in self.consultants]
        mean = sum(skills) / len(skills)
        self.skill = {c: s / mean for c, s in zip(self.consultants, skills)}
        n_advisors = max(2, round(P.ADVISORS_PER_STORE * size))
        self.advisors = [add(f"{self.prefix}_service{i + 1}", "advisor") for i in range(n_advisors)]

    def campaigns(self, months: list[dt.date]) -> None:
        self.by_month: dict[tuple[dt.date, str], list[CampaignSpec]] = {}
        size = self.spec.size
        for month in months:
            spend = P.SEASON_MARKETING[month.month - 1]
            last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            for channel, (per_year, cost, leads) in P.CAMPAIGNS.items():
                n = per_year / 12 * spend
                n = int(n) + (1 if self.rng.random() < n - int(n) else 0)
                if channel == "online_ads":
                    n = max(n, 1)  # the monthly vertical-media package never stops
                for i in range(n):
                    if channel == "online_ads" and i == 0:
                        starts, ends = month, last_day
                        name = f"{month:%Y年%m月}汽车之家/懂车帝线索包"
                    else:
                        starts = self.day_in(month)
                        length = {"social": 7, "kol": 3, "offline_ads": 30, "event": 2, "online_ads": 10}[channel]
                        ends = starts + dt.timedelta(days=self.rng.randint(max(1, length // 2), length))
                        name = self.campaign_name(channel, month, i)
                    self.campaign(channel, starts, ends, name, cost * size * self.rng.uniform(0.6, 1.4), leads)
        self.h.campaigns.sort(key=lambda c: c.key)

    def campaign_name(self, channel: str, month: dt.date, i: int) -> str:
        names = {
            "online_ads": ["巨量引擎冲刺投放", "百度信息流"], "social": ["抖音直播", "微信朋友圈广告", "视频号直播"],
            "kol": ["汽车博主探店"], "offline_ads": ["户外大牌", "交通广播"],
            "event": ["周末团购会", "新车上市发布会", "车展", "车主自驾游", "店庆特卖"],
        }[channel]
        return f"{month:%Y年%m月}{names[(i + month.month) % len(names)]}"

    def campaign(self, channel: str, starts: dt.date, ends: dt.date, name: str, cost: float, leads: int) -> None:
        cost_d = Decimal(round(cost))
        attendees = leads if channel == "event" else 0
        spec = CampaignSpec(
            key=self.counter.next("campaign"), store=self.spec.key, name=name, channel=channel,
            starts_on=starts, ends_on=ends, budget=Decimal(round(cost * self.rng.uniform(0.95, 1.15))),
            fixed_cost=Decimal(round(cost * 0.8)) if channel == "event" else cost_d,
            variable_cost_per_attendee=Decimal(self.rng.choice([100, 150, 200, 300])) if channel == "event" else Decimal(0),
            reach=int(max(leads, 20) * self.rng.uniform(30, 80)), inquiries=int(leads * self.rng.uniform(1.1, 1.6)),
            invited=int(attendees * 1.6), planned_attendees=attendees,
        )
        parts = self.rng.randint(1, 3)
        for p in range(parts):  # costs are booked in instalments; they add up to the cost exactly
            amount = cost_d / parts if p < parts - 1 else cost_d - (cost_d / parts).quantize(Decimal("0.01")) * (parts - 1)
            day = starts + dt.timedelta(days=round((ends - starts).days * p / parts))
            spec.costs.append((day, amount.quantize(Decimal("0.01")), ["媒体", "物料", "场地", "人员"][p % 4]))
        self.h.campaigns.append(spec)
        self.by_month.setdefault((starts.replace(day=1), channel), []).append(spec)

    def campaign_for(self, month: dt.date, channel: str) -> CampaignSpec | None:
        found = self.by_month.get((month, channel))
        return self.rng.choice(found) if found else None

    def plans_and_market(self, months: list[dt.date]) -> None:
        size = self.spec.size
        traffic = (P.MONTHLY_LEADS["walk_in"] + 140 + 160 + P.MONTHLY_LEADS["phone"]) * size
        for month in months:
            season = P.SEASON_ORDERS[month.month - 1]
            self.h.traffic_plans.append((self.spec.key, month, round(traffic * season * self.rng.uniform(1.0, 1.12))))
            sales = round(self.spec.city_brand_sales * season * self.rng.uniform(0.9, 1.1))
            self.h.market_data.append((self.spec.key, month, sales, self.spec.city_brand_stores,
                                       self.spec.city_brand_sales * 12 * 8))

    # --- customers ---
    def new_customer(self, *, source: str, campaign: CampaignSpec | None, consultant: int | None,
                     referred_by: int | None = None, intent: str = "") -> int:
        key = self.counter.next("customer")
        phone = "1" + self.rng.choice("3456789") + "".join(self.rng.choices("0123456789", k=9))
        self.h.customers.append(CustomerSpec(key, self.spec.key, _person_name(self.rng), phone, source,
                                             campaign.key if campaign else None, consultant, referred_by, intent))
        return key

    def month(self, month: dt.date) -> None:
        season = P.SEASON_ORDERS[month.month - 1]
        frac = 1.0
        last = None
        if month == self.h.now.date().replace(day=1):
            days = calendar.monthrange(month.year, month.month)[1]
            frac, last = self.h.now.day / days, self.h.now.date()
        size = self.spec.size * season * frac
        for source, base in P.MONTHLY_LEADS.items():
            for _ in range(self.count(base * size)):
                self.lead(source, self.day_in(month, last), month)
        for _ in range(self.count(P.REPEAT_ORDERS_PER_MONTH * size)):
            self.repeat_order(self.day_in(month, last))
        for _ in range(self.count(P.OUTSIDE_SERVICE_PER_MONTH * self.spec.size * frac)):
            self.outside_service_customer(self.day_in(month, last))

    def lead(self, source: str, day: dt.date, month: dt.date) -> None:
        rng = self.rng
        consultant = rng.choice(self.consultants)
        t0 = self.local(day)
        if source == "walk_in" and rng.random() < P.ANONYMOUS_WALK_INS:
            self.emit(t0, "visit", None, self.counter.next("visit"), kind="showroom", consultant=consultant,
                      campaign=None, invited=False)
            return
        campaign = None
        source_value = source
        if source == "online":
            channel = self.pick(P.ONLINE_SOURCES)
            campaign = self.campaign_for(month, channel) if channel in P.CAMPAIGNS else None
        elif source == "list":
            source_value = rng.choice(["list", "online"])
            campaign = self.campaign_for(month, rng.choice(["online_ads", "social"]))
        elif source == "walk_in":
            source_value = "walk_in"
            if rng.random() < 0.25:
                campaign = self.campaign_for(month, "offline_ads") or self.campaign_for(month, "event")
                if campaign and campaign.channel == "event":
                    source_value = "event"
        referred_by = None
        if source == "referral":
            referred_by = self.earlier_buyer(t0)
            if referred_by is None:
                source_value = "walk_in"
        by = rng.choice(self.marketing) if source == "list" else consultant
        will_td = rng.random() < P.TEST_DRIVE[source]
        intent = (rng.choice("HA") if will_td else rng.choice("BC")) if source != "list" else ""
        customer = self.new_customer(source=source_value, campaign=campaign, consultant=consultant,
                                     referred_by=referred_by, intent=intent)
        self.emit(t0, "create", customer, by=by)
        # First contact and the showroom visit.
        show_at = None
        if source == "online":
            self.visit(customer, t0 + dt.timedelta(minutes=rng.randint(0, 30)), "online", consultant, campaign)
        elif source == "phone":
            self.visit(customer, t0, "phone_in", consultant, campaign)
        elif source == "list":
            if rng.random() >= P.LIST_CONTACT_RATE:
                return
            self.visit(customer, self.later(t0, 3, 60), "phone_in", consultant, campaign)
        else:
            kind = "offsite" if campaign and campaign.channel == "event" and rng.random() < 0.4 else "showroom"
            self.visit(customer, t0, kind, consultant, campaign)
            show_at = t0
        last = max(e.at for e in self.h.events[-1:])
        if show_at is None and rng.random() < P.INVITE_TO_STORE.get(source, 0):
            show_at = self.later(last, 1, 14)
            self.visit(customer, show_at, "showroom", consultant, campaign, invited=True)
        if show_at is None:
            self.maybe_lost(customer, last, "potential", consultant)
            return
        last = show_at
        came_back = rng.random() < P.RETURN_VISIT
        if came_back:
            back = self.later(show_at, 2, 20)
        if will_td:
            td_at = (back if came_back and rng.random() < 0.5 else show_at) + dt.timedelta(minutes=40)
            self.emit(td_at, "test_drive", customer, self.counter.next("test_drive"), consultant=consultant,
                      model=rng.choice(P.CAR_MODELS)[0])
        elif rng.random() < P.HAND_MOVE_TO_TARGET:
            self.emit(self.later(show_at, 0.5, 3), "move", customer, stage="target", by=consultant)
        if came_back:
            self.visit(customer, back, "showroom", consultant, None)
            last = max(last, back)
        if will_td:
            last = max(last, td_at)
        p_order = (P.ORDER_WITH_TD if will_td else P.ORDER_WITHOUT_TD)[source] * self.skill[consultant]
        order_at = self.later(last, 0, 21)
        # Orders follow the season of the month they fall in (Spring Festival, the year-end push), not
        # only that of the month the lead came in.
        p_order *= P.SEASON_ORDERS[order_at.astimezone(self.tz).month - 1] / P.SEASON_ORDERS[month.month - 1]
        if rng.random() < p_order:
            self.order(customer, order_at, consultant, campaign)
            return
        lost_at = self.maybe_lost(customer, last, "target" if will_td else "potential", consultant)
        if lost_at and rng.random() < P.REACTIVATED:
            back_at = self.later(lost_at, 30, 120)
            self.emit(back_at, "reactivate", customer, by=consultant)
            if rng.random() < P.ORDER_AFTER_REACTIVATION:
                self.order(customer, self.later(back_at, 3, 30), consultant, None)

    def visit(self, customer: int, at: dt.datetime, kind: str, consultant: int, campaign: CampaignSpec | None,
              invited: bool = False) -> None:
        self.emit(at, "visit", customer, self.counter.next("visit"), kind=kind, consultant=consultant,
                  campaign=campaign.key if campaign else None, invited=invited)

    def maybe_lost(self, customer: int, last: dt.datetime, stage: str, consultant: int) -> dt.datetime | None:
        if self.rng.random() >= (P.LOST_TARGET if stage == "target" else P.LOST_POTENTIAL):
            return None
        at = self.later(last, 7, 45)
        self.emit(at, "lost", customer, reason=self.rng.choice(P.LOST_REASONS), by=consultant)
        return at

    def order(self, customer: int, at: dt.datetime, consultant: int, campaign: CampaignSpec | None,
              deliver: bool = True) -> None:
        rng = self.rng
        model, low, high = rng.choices(P.CAR_MODELS, weights=P.CAR_MODEL_WEIGHTS)[0]
        price = Decimal(round(rng.triangular(low, high, low + (high - low) * 0.35), -2))
        month = at.astimezone(self.tz).month
        margin = rng.uniform(-0.08, 0.0) - (0.02 if month in P.MARGIN_WORST_MONTHS else 0.0)
        key = self.counter.next("order")
        self.emit(at, "order", customer, key, consultant=consultant, model=model, price=price,
                  gross_profit=(price * Decimal(str(round(margin, 4)))).quantize(Decimal("0.01")),
                  oem_rebate=(price * Decimal(str(round(rng.gauss(P.REBATE_MEAN, 0.008), 4)))).quantize(Decimal("0.01")),
                  campaign=campaign.key if campaign else None)
        if first := not any(c == customer for _, c in self.buyers[-50:]):
            self.buyers.append((at, customer))
        if not deliver or rng.random() < P.CANCELLED_ORDERS:
            return
        delay = min(30.0, rng.expovariate(1 / 5.0))
        delivered = self.local((at + dt.timedelta(days=delay)).astimezone(self.tz).date(), 10, 17)
        delivered = max(delivered, at + dt.timedelta(hours=2))
        self.emit(delivered, "deliver", customer, key)
        self.callback(customer, delivered, order=key, staff=consultant)
        if first:
            self.service_life(customer, delivered)

    def callback(self, customer: int, after: dt.datetime, *, staff: int, order: int | None = None,
                 service_visit: int | None = None) -> None:
        if self.rng.random() >= P.CALLBACK_DONE or after < self.records_from:
            return
        at = self.later(after, 0.2, 3.5) if self.rng.random() < 0.96 else self.later(after, 4, 9)
        at = max(at, after + dt.timedelta(minutes=30))
        self.emit(at, "callback", customer, self.counter.next("callback"), order=order,
                  service_visit=service_visit, staff=staff, reached=self.rng.random() < P.CALLBACK_REACHED)

    def earlier_buyer(self, before: dt.datetime) -> int | None:
        """A random owner who bought before `before` (a few draws: the list is long, most qualify)."""
        for _ in range(20):
            if not self.buyers:
                return None
            bought, customer = self.rng.choice(self.buyers)
            if bought < before:
                return customer
        return None

    def repeat_order(self, day: dt.date) -> None:
        at = self.local(day)
        owner = self.earlier_buyer(at - dt.timedelta(days=180))
        if owner is not None:
            self.order(owner, at, self.rng.choice(self.consultants), None)

    def legacy_owners(self) -> None:
        """Owners who bought in the years before the history starts: their records come from the DMS."""
        rng = self.rng
        per_year = sum(P.MONTHLY_LEADS.values()) * 0.083 * 12 * self.spec.size
        first = self.h.start.replace(year=self.h.start.year - P.LEGACY_OWNER_YEARS)
        span = (self.h.start - first).days
        for _ in range(self.count(per_year * P.LEGACY_OWNER_YEARS)):
            day = first + dt.timedelta(days=rng.randrange(span))
            consultant = rng.choice(self.consultants)
            customer = self.new_customer(source=rng.choice(["walk_in", "online", "phone"]), campaign=None,
                                         consultant=consultant, intent="H")
            # Imported as a buyer: created, then the order (which passes potential and target at once).
            t0 = self.local(day - dt.timedelta(days=rng.randint(7, 40)))
            self.emit(t0, "create", customer, by=consultant)
            self.order(customer, self.local(day), consultant, None)

    def outside_service_customer(self, day: dt.date) -> None:
        """A car bought elsewhere comes for service: the customer stays `market` (domain.md)."""
        customer = self.new_customer(source="other", campaign=None, consultant=None)
        at = self.local(day, 8, 17)
        self.emit(at, "create", customer, by=self.rng.choice(self.advisors))
        bought = at - dt.timedelta(days=self.rng.randint(100, 6 * 365))
        self.service_visits(customer, at, bought, first_at=at)

    # --- after-sales ---
    def service_life(self, customer: int, delivered: dt.datetime) -> None:
        if self.rng.random() >= P.FIRST_SERVICE:
            return
        first_at = self.later(delivered, *P.FIRST_SERVICE_DAYS)
        self.service_visits(customer, first_at, delivered, first_at=first_at)

    def service_visits(self, customer: int, at: dt.datetime, delivered: dt.datetime, *, first_at: dt.datetime) -> None:
        rng = self.rng
        end = self.h.now + dt.timedelta(days=1)
        vin = "LVG" + "".join(rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=14))
        advisor = rng.choice(self.advisors)
        kind = "maintenance"
        while at <= end:
            self.service_visit(customer, at, delivered, kind, vin, advisor)
            # Unplanned visits between two services; then the next service, unless he churns.
            gap = min(720.0, rng.lognormvariate(math.log(P.SERVICE_GAP_DAYS_MEAN), 0.35))
            for _ in range(self.count(P.EXTRA_REPAIRS_PER_YEAR * gap / 365)):
                extra = self.later(at, 5, gap)
                extra_kind = self.pick({k: v for k, v in P.SERVICE_MIX.items() if k != "maintenance"})
                if extra_kind == "warranty" and extra >= delivered + dt.timedelta(days=365 * P.WARRANTY_YEARS):
                    extra_kind = "repair"
                self.service_visit(customer, extra, delivered, extra_kind, vin, advisor)
            if rng.random() >= P.SERVICE_KEEP_AFTER_VISIT:
                return
            at = self.later(at, gap, gap)
            if rng.random() < 0.2:
                advisor = rng.choice(self.advisors)

    def service_visit(self, customer: int, at: dt.datetime, delivered: dt.datetime, kind: str, vin: str,
                      advisor: int) -> None:
        rng = self.rng
        days = {"maintenance": 0.1, "repair": rng.uniform(0.1, 3), "accident": rng.uniform(2, 10),
                "warranty": rng.uniform(0.1, 2)}[kind]
        closed = at + dt.timedelta(days=days, hours=1)
        if at < self.records_from:
            return
        lo, hi = P.SERVICE_REVENUE[kind]
        key = self.counter.next("service_visit")
        self.emit(at, "service", customer, key, advisor=advisor, vin=vin, kind=kind, closed_at=closed,
                  revenue=Decimal(round(rng.uniform(lo, hi))),
                  in_warranty=at < delivered + dt.timedelta(days=365 * P.WARRANTY_YEARS))
        self.callback(customer, closed, service_visit=key, staff=advisor)


def _surveys(history: History, rng: random.Random) -> None:
    """OEM CSI/SSI tables of the region: our stores and the other dealers of the region, each month."""
    ours = [(s.code, s.name) for s in history.stores]
    others = [(f"ZJ-{i:03d}", f"浙江{name}丰田") for i, name in enumerate(
        ["湖州", "嘉兴", "金华", "台州", "丽水", "衢州", "舟山", "义乌", "温州", "温州瑞安", "余姚", "慈溪", "诸暨",
         "海宁", "桐乡", "萧山", "富阳"], start=100)][: max(0, P.SURVEY_DEALERS - len(ours))]
    means = {code: rng.uniform(*P.SURVEY_MEAN) for code, _ in ours + others}
    for month in month_starts(history.start, history.now.date()):
        for survey in ("csi", "ssi"):
            for code, name in ours + others:
                score = min(100.0, rng.gauss(means[code], P.SURVEY_SD / 2))
                history.surveys.append((survey, month, P.SURVEY_REGION, code, name, Decimal(f"{score:.2f}")))
