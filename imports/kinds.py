"""What each kind of import accepts: its columns, their headers (API name or Chinese label) and how a
cell becomes a value.

This is the one table the importer, the exporters, the template files and docs/imports.md are made
from, so a header accepted here is a header published there. Cell parsers raise CellError with a
message in the active language; they never touch the database (references are resolved later, in bulk).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.models import ServiceKind
from campaigns.models import Channel
from customers.models import Intent, Source, Stage
from kpis.models import Survey
from sales.models import VisitKind


class CellError(ValueError):
    """A cell that cannot be read; the message is shown to the user as is."""


# --- cell parsers -------------------------------------------------------------------------------

def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if _blank(value):
            return ""
        if isinstance(value, float) and value.is_integer():  # Excel keeps codes like 1001 as 1001.0
            value = int(value)
        text = str(value).strip()
        if len(text) > max_length:
            raise CellError(_("Too long: at most %(n)d characters.") % {"n": max_length})
        return text
    return parse


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f", "%H时%M分", "%H:%M:%S%z", "%H:%M%z")


def parse_datetime(value: Any) -> dt.datetime | None:
    """ISO 8601 (with or without offset), 2024/3/5 14:30, 2024年3月5日, or an Excel date cell.

    A naive result is read later in the row's store time zone (api.md), not here: the store may be a
    column of the same row.
    """
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    date_part, _sep, time_part = text.replace("T", " ").partition(" ")
    day = _parse_day(date_part)
    if day is None:
        raise CellError(_("Not a date and time: %(value)s (write 2025-03-05 14:30).") % {"value": text})
    if not time_part.strip():
        return dt.datetime.combine(day, dt.time())
    for fmt in _TIME_FORMATS:
        try:
            parsed = dt.datetime.strptime(time_part.strip(), fmt)
        except ValueError:
            continue
        return dt.datetime.combine(day, parsed.timetz())
    raise CellError(_("Not a date and time: %(value)s (write 2025-03-05 14:30).") % {"value": text})


def _parse_day(text: str) -> dt.date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_date(value: Any) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    day = _parse_day(text.split(" ")[0].split("T")[0])
    if day is None:
        raise CellError(_("Not a date: %(value)s (write 2025-03-05).") % {"value": text})
    return day


_PERIOD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


def parse_period(value: Any) -> dt.date | None:
    """A month: 2025-03, 2025/3, 2025年3月, or any date in it (Excel turns 2025-03 into a date)."""
    if _blank(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        day = value.date() if isinstance(value, dt.datetime) else value
        return day.replace(day=1)
    text = str(value).strip()
    match = _PERIOD.match(text)
    if match and 1 <= int(match.group(2)) <= 12:
        return dt.date(int(match.group(1)), int(match.group(2)), 1)
    day = _parse_day(text.split(" ")[0])
    if day is None:
        raise CellError(_("Not a month: %(value)s (write 2025-03).") % {"value": text})
    return day.replace(day=1)


def parse_money(*, negative: bool = False) -> Callable[[Any], Decimal | None]:
    def parse(value: Any) -> Decimal | None:
        if _blank(value):
            return None
        text = str(value).strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
        text = text.removesuffix("元").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise CellError(_("Not an amount: %(value)s (write 12345.00).") % {"value": value}) from None
        if not amount.is_finite():
            raise CellError(_("Not an amount: %(value)s (write 12345.00).") % {"value": value})
        try:
            amount = amount.quantize(Decimal("0.01"))
        except InvalidOperation:  # more digits than a Decimal holds (1e400): no amount of money
            raise CellError(_("Too large an amount.")) from None
        if amount < 0 and not negative:
            raise CellError(_("Cannot be negative."))
        if abs(amount) >= Decimal("1e12"):
            raise CellError(_("Too large an amount."))
        return amount
    return parse


def parse_count(value: Any) -> int | None:
    if _blank(value):
        return None
    text = str(value).strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(_("Not a whole number: %(value)s.") % {"value": value}) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError(_("Not a whole number: %(value)s.") % {"value": value})
    if number < 0:
        raise CellError(_("Cannot be negative."))
    if number > 2_147_483_647:
        raise CellError(_("Too large a number."))
    return int(number)


TRUE_WORDS = _TRUE = {"1", "true", "t", "yes", "y", "是", "√", "✓", "有", "已接通", "接通"}
FALSE_WORDS = _FALSE = {"0", "false", "f", "no", "n", "否", "×", "✗", "无", "未接通"}


def parse_bool(value: Any) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("Write yes or no (是/否): %(value)s.") % {"value": value})


def parse_choice(choices: type, aliases: dict[str, str]) -> Callable[[Any], str | None]:
    """An API code, its English label, or one of its Chinese names (展厅, 来电, ...)."""
    lookup: dict[str, str] = {}
    for code, label in choices.choices:
        lookup[code.lower()] = code
        lookup[str(label).lower()] = code
    for alias, code in aliases.items():
        lookup[alias.lower()] = code

    def parse(value: Any) -> str | None:
        if _blank(value):
            return None
        code = lookup.get(str(value).strip().lower())
        if code is None:
            accepted = ", ".join([c for c, _label in choices.choices] + list(aliases))
            raise CellError(_("Unknown value %(value)s; use one of: %(accepted)s.")
                            % {"value": value, "accepted": accepted})
        return code
    parse.choices = choices  # type: ignore[attr-defined]
    parse.lookup = lookup  # type: ignore[attr-defined]  # the COPY path maps cells with the same table
    parse.aliases = aliases  # type: ignore[attr-defined]
    return parse


# --- column and kind specifications ------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str                     # the API field name, also the canonical header
    label: str                     # the Chinese header of the template files
    parse: Callable[[Any], Any]
    required: bool = False         # the column must be present (and the cell filled)
    aliases: tuple[str, ...] = ()  # other headers a DMS export is known to use
    help: Any = ""                 # what to write in it (docs and the import page)

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.field, self.label, *self.aliases)


@dataclass(frozen=True)
class Kind:
    name: str
    label: Any
    columns: tuple[Column, ...]
    # At least one of these columns must be present (e.g. a customer by external id or by phone).
    one_of: tuple[tuple[str, ...], ...] = ()
    # The column whose time orders the rows when they are written (events in their own time order).
    time_field: str | None = None
    needs_manager: bool = False
    store_column: bool = True
    notes: Any = ""
    column_map: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for column in self.columns:
            for header in column.headers:
                self.column_map[normalize_header(header)] = column

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)


_HEADER_NOISE = re.compile(r"[\s*＊:：_\-()（）]")


def normalize_header(header: Any) -> str:
    """'客户姓名 *', 'Customer_Phone', '\ufeffexternal_id' compare equal to their canonical forms."""
    return _HEADER_NOISE.sub("", str(header or "").replace("\ufeff", "")).lower()


SOURCE_ALIASES = {"到店": "walk_in", "展厅": "walk_in", "自然到店": "walk_in", "来电": "phone", "电话": "phone",
                  "网络": "online", "线上": "online", "网电": "online", "活动": "event", "车展": "event",
                  "转介绍": "referral", "推荐": "referral", "老客户推荐": "referral", "名单": "list",
                  "外部名单": "list", "其他": "other", "其它": "other"}
STAGE_ALIASES = {"市场客户": "market", "潜在客户": "potential", "目标客户": "target", "意向客户": "target",
                 "真实客户": "real", "成交客户": "real", "终身客户": "lifetime", "忠诚客户": "loyal"}
VISIT_KIND_ALIASES = {"展厅": "showroom", "到店": "showroom", "展厅到店": "showroom", "展馆外": "offsite",
                      "外展": "offsite", "展馆外参观": "offsite", "来电": "phone_in", "电话": "phone_in",
                      "线上": "online", "网络": "online", "在线": "online", "线上咨询": "online"}
SERVICE_KIND_ALIASES = {"保养": "maintenance", "首保": "maintenance", "维修": "repair", "一般维修": "repair",
                        "机修": "repair", "保修": "warranty", "索赔": "warranty", "事故": "accident",
                        "钣喷": "accident", "钣金喷漆": "accident", "其他": "other", "其它": "other"}
CHANNEL_ALIASES = {"线上广告": "online_ads", "网络广告": "online_ads", "线下广告": "offline_ads",
                   "户外广告": "offline_ads", "活动": "event", "车展": "event", "促销": "promotion",
                   "社交媒体": "social", "新媒体": "social", "微信": "social", "抖音": "social", "达人": "kol",
                   "转介绍": "referral", "其他": "other", "其它": "other"}
INTENT_ALIASES = {"h级": "H", "a级": "A", "b级": "B", "c级": "C"}
SURVEY_ALIASES = {"客户满意度": "csi", "销售满意度": "ssi", "售后满意度": "csi"}


external_id = Column("external_id", "外部编号", parse_text(64), aliases=("编号", "DMS编号"),
                     help=gettext_lazy("The record's id in the DMS; importing the same id again updates the record."))
store = Column("dealership", "门店代码", parse_text(32), aliases=("门店", "经销商代码", "dealer_code"),
               help=gettext_lazy("The store's OEM dealer code; may be left out when the store is chosen for the "
                                 "whole file."))
customer_ref = Column("customer", "客户编号", parse_text(64), aliases=("客户外部编号",),
                      help=gettext_lazy("The customer's external id (or give the phone instead)."))
customer_phone = Column("customer_phone", "客户手机号", parse_text(40), aliases=("手机号", "电话", "phone"),
                        help=gettext_lazy("The customer's phone, when the external id is not known."))
consultant = Column("consultant", "顾问", parse_text(150), aliases=("销售顾问", "consultant_username"),
                    help=gettext_lazy("The consultant's user name in this system."))
campaign_ref = Column("campaign", "活动编号", parse_text(64), aliases=("活动", "营销活动"),
                      help=gettext_lazy("The campaign's external id."))

KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("customers", gettext_lazy("Customers"), (
        external_id, store,
        Column("name", "客户姓名", parse_text(80), aliases=("姓名",)),
        Column("phone", "手机号", parse_text(40), aliases=("电话", "手机", "联系电话"),
               help=gettext_lazy("Spaces, dashes and +86 are removed; a customer is matched on phone within the "
                                 "store.")),
        Column("source", "来源", parse_choice(Source, SOURCE_ALIASES), aliases=("客户来源", "线索来源")),
        campaign_ref, consultant,
        Column("referred_by", "推荐人", parse_text(64), aliases=("推荐人编号",),
               help=gettext_lazy("The referring customer's external id.")),
        Column("stage", "阶段", parse_choice(Stage, STAGE_ALIASES), aliases=("初始阶段", "客户阶段"),
               help=gettext_lazy("The stage on creation (default market); later the events move it.")),
        Column("intent", "意向级别", parse_choice(Intent, INTENT_ALIASES), aliases=("级别",)),
        Column("is_lost", "战败", parse_bool, aliases=("是否战败",)),
        Column("lost_reason", "战败原因", parse_text(200)),
        Column("lost_at", "战败时间", parse_datetime),
        Column("created_at", "建档时间", parse_datetime, aliases=("创建时间", "登记时间"),
               help=gettext_lazy("When the customer was first recorded (default: now).")),
        Column("notes", "备注", parse_text(2000)),
    ), one_of=(("external_id", "phone"),), time_field="created_at",
        notes=gettext_lazy("A customer is found by external id, else by phone within the store; found customers are "
                "updated. Lost (战败) is recorded at 战败时间 with the stage the customer has then, so import "
                "lost marks after the customer's events.")),
    Kind("visits", gettext_lazy("Visits and calls"), (
        external_id, store, customer_ref, customer_phone,
        Column("kind", "类型", parse_choice(VisitKind, VISIT_KIND_ALIASES), required=True,
               aliases=("客流类型", "到店类型")),
        Column("occurred_at", "到店时间", parse_datetime, required=True, aliases=("发生时间", "来电时间", "时间")),
        campaign_ref, consultant,
        Column("invited", "邀约", parse_bool, aliases=("是否邀约", "邀约到店")),
        Column("notes", "备注", parse_text(500)),
    ), time_field="occurred_at", notes=gettext_lazy("A visit without customer is anonymous traffic.")),
    Kind("test_drives", gettext_lazy("Test drives"), (
        external_id, store, customer_ref, customer_phone, consultant,
        Column("occurred_at", "试驾时间", parse_datetime, required=True, aliases=("时间",)),
        Column("model", "车型", parse_text(60), aliases=("试驾车型",)),
    ), one_of=(("customer", "customer_phone"),), time_field="occurred_at"),
    Kind("orders", gettext_lazy("Orders and deliveries"), (
        external_id, store, customer_ref, customer_phone, consultant,
        Column("model", "车型", parse_text(60)),
        Column("ordered_at", "下单时间", parse_datetime, required=True, aliases=("订单时间", "签约时间")),
        Column("delivered_at", "交车时间", parse_datetime, aliases=("交付时间",)),
        Column("price", "成交价", parse_money(), aliases=("售价", "价格", "车价")),
        Column("gross_profit", "毛利", parse_money(negative=True), aliases=("新车毛利", "前端毛利")),
        Column("oem_rebate", "厂家返利", parse_money(), aliases=("返利",)),
        campaign_ref,
    ), one_of=(("customer", "customer_phone"),), time_field="ordered_at"),
    Kind("service_visits", gettext_lazy("Service visits (repair orders)"), (
        external_id, store, customer_ref, customer_phone,
        Column("advisor", "服务顾问", parse_text(150), aliases=("接待顾问", "advisor_username")),
        Column("vin", "VIN", parse_text(17), aliases=("车架号", "底盘号")),
        Column("kind", "维修类型", parse_choice(ServiceKind, SERVICE_KIND_ALIASES), aliases=("工单类型", "类型")),
        Column("opened_at", "进厂时间", parse_datetime, required=True, aliases=("开单时间", "入厂时间")),
        Column("closed_at", "结算时间", parse_datetime, aliases=("出厂时间",)),
        Column("revenue", "产值", parse_money(), aliases=("工单金额", "结算金额", "维修产值")),
        Column("in_warranty", "保修期内", parse_bool, aliases=("是否在保", "在保")),
    ), one_of=(("customer", "customer_phone"),), time_field="opened_at"),
    Kind("callbacks", gettext_lazy("Callbacks"), (
        external_id, store,
        Column("order", "订单编号", parse_text(64), help=gettext_lazy("The delivered order's external id.")),
        Column("service_visit", "工单编号", parse_text(64), help=gettext_lazy("The service visit's external id.")),
        Column("staff", "回访人", parse_text(150), aliases=("回访员", "staff_username")),
        Column("completed_at", "回访时间", parse_datetime, required=True),
        Column("reached", "接通", parse_bool, aliases=("是否接通", "有效回访")),
        Column("notes", "备注", parse_text(500), aliases=("回访内容",)),
    ), one_of=(("order", "service_visit"),), time_field="completed_at",
        notes=gettext_lazy("Each row names exactly one subject: an order or a service visit.")),
    Kind("campaigns", gettext_lazy("Campaigns"), (
        external_id, store,
        Column("name", "活动名称", parse_text(120), required=True),
        Column("channel", "渠道", parse_choice(Channel, CHANNEL_ALIASES), required=True, aliases=("活动类型",)),
        Column("starts_on", "开始日期", parse_date, required=True),
        Column("ends_on", "结束日期", parse_date, required=True),
        Column("cycle_days", "成交周期", parse_count, aliases=("成交周期天数",)),
        Column("budget", "预算", parse_money()),
        Column("fixed_cost", "固定成本", parse_money()),
        Column("variable_cost_per_attendee", "人均变动成本", parse_money()),
        Column("contribution_per_deal", "单车边际贡献", parse_money()),
        Column("reach", "信息传递数量", parse_count, aliases=("触达人数",)),
        Column("inquiries", "咨询数", parse_count, aliases=("信息咨询数",)),
        Column("invited", "邀约数", parse_count),
        Column("planned_attendees", "计划到场人数", parse_count),
    ), one_of=(("external_id",),), time_field="starts_on"),
    Kind("campaign_costs", gettext_lazy("Campaign costs"), (
        external_id, store,
        Column("campaign", "活动编号", parse_text(64), required=True, aliases=("活动",)),
        Column("incurred_on", "发生日期", parse_date, required=True, aliases=("费用日期",)),
        Column("amount", "金额", parse_money(), required=True, aliases=("费用", "费用金额")),
        Column("category", "费用类别", parse_text(32), aliases=("类别",)),
    ), time_field="incurred_on"),
    Kind("traffic_plans", gettext_lazy("Traffic plans"), (
        store,
        Column("period", "月份", parse_period, required=True, aliases=("期间",)),
        Column("planned_traffic", "计划客流", parse_count, required=True, aliases=("计划顾客数",)),
    ), time_field="period"),
    Kind("satisfaction_scores", gettext_lazy("Satisfaction scores (CSI/SSI)"), (
        Column("survey", "调查", parse_choice(Survey, SURVEY_ALIASES), required=True, aliases=("类型",)),
        Column("period", "月份", parse_period, required=True, aliases=("期间",)),
        Column("region", "区域", parse_text(60), aliases=("大区",)),
        Column("dealer_code", "经销商代码", parse_text(32), required=True, aliases=("门店代码",)),
        Column("dealer_name", "经销商名称", parse_text(120), aliases=("门店名称",)),
        Column("score", "得分", parse_money(), required=True, aliases=("分数",)),
    ), needs_manager=True, store_column=False,
        notes=gettext_lazy("The region's whole table, other dealers included; managers only.")),
    Kind("market_data", gettext_lazy("City market data"), (
        store,
        Column("period", "月份", parse_period, required=True, aliases=("期间",)),
        Column("city_brand_sales", "本市品牌销量", parse_count, required=True, aliases=("城市品牌销量",)),
        Column("city_brand_stores", "本市同品牌店数", parse_count, required=True, aliases=("同品牌4S店数",)),
        Column("market_parc", "品牌保有量", parse_count, aliases=("保有量",)),
    ), time_field="period"),
]}

# The order in which a store's history is imported: every file refers only to kinds above it, and
# events are applied in time order within a file (docs/imports.md).
IMPORT_ORDER = ["campaigns", "campaign_costs", "traffic_plans", "market_data", "satisfaction_scores",
                "customers", "visits", "test_drives", "orders", "service_visits", "callbacks"]
