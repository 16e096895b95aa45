"""The KPI catalogue of spec/kpis.md as code: one frozen definition per stable KPI code.

Pages, the REST API, the CSV export, targets and the engine all read the catalogue from here, so a KPI
exists in exactly one place. Order is the catalogue's order (dashboards list KPIs in it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "rate", "money", "score", "rank"]
DirectionName = Literal["higher", "lower"] | None
StatusName = Literal["ok", "warn", "alert", "none"]

# Families: one grouped computation per family (kpis.engine), one section per family on the dashboard.
FOLLOW_UP = "follow_up"
SATISFACTION = "satisfaction"
CUSTOMER_BASE = "customer_base"
TRAFFIC = "traffic"
SALES = "sales"
FUNNEL = "funnel"
CAMPAIGN = "campaign"

FAMILIES: dict[str, tuple[str, str]] = {
    FOLLOW_UP: ("Follow-up", "客户追踪"),
    SATISFACTION: ("Satisfaction", "满意度"),
    CUSTOMER_BASE: ("Customer base", "客户数据"),
    TRAFFIC: ("Traffic and cost", "客户保留成本"),
    SALES: ("Sales process", "客户保留流程管理"),
    FUNNEL: ("Capability curve", "能力曲线"),
    CAMPAIGN: ("Campaigns", "营销活动"),
}


@dataclass(frozen=True)
class KpiDef:
    code: str
    name: str
    name_zh: str
    unit: Unit
    direction: DirectionName
    description: str
    by_person: bool = False
    family: str = ""

    @property
    def is_rate(self) -> bool:
        return self.unit == "rate"


def _k(family: str, code: str, name: str, name_zh: str, unit: Unit, direction: DirectionName,
       description: str, by_person: bool = False) -> KpiDef:
    return KpiDef(code=code, name=name, name_zh=name_zh, unit=unit, direction=direction,
                  description=description, by_person=by_person, family=family)


STAGES: list[tuple[str, str, str]] = [
    ("market", "Market", "市场客户"),
    ("potential", "Potential", "潜在客户"),
    ("target", "Target", "目标客户"),
    ("real", "Real", "真实客户"),
    ("lifetime", "Lifetime", "终身客户"),
    ("loyal", "Loyal", "忠诚客户"),
]

_STORE_KPIS: list[KpiDef] = [
    # Follow-up (客户追踪)
    _k(FOLLOW_UP, "callback_3d_sales", "3-day post-sale callback rate", "自售出之日起3天内有效回访率", "rate",
       "higher", "Deliveries in P with a reached callback completed on a local date ≤ delivery date + 3 days "
       "/ deliveries in P.", by_person=True),
    _k(FOLLOW_UP, "callback_3d_service", "3-day post-service callback rate", "售后3天内有效回访率", "rate",
       "higher", "Service visits closed in P with a reached callback completed on a local date ≤ closed date "
       "+ 3 days / service visits closed in P.", by_person=True),
    # Satisfaction (OEM surveys)
    _k(SATISFACTION, "csi_score", "CSI score", "CSI 得分", "score", "higher",
       "The store's score in the CSI survey for P (matched on the dealer code)."),
    _k(SATISFACTION, "ssi_score", "SSI score", "SSI 得分", "score", "higher",
       "The store's score in the SSI survey for P (matched on the dealer code)."),
    _k(SATISFACTION, "csi_rank", "CSI rank", "CSI 排名", "rank", "lower",
       "1 + dealers in the CSI survey of P with a strictly higher score; denominator = dealers in it."),
    _k(SATISFACTION, "ssi_rank", "SSI rank", "SSI 排名", "rank", "lower",
       "1 + dealers in the SSI survey of P with a strictly higher score; denominator = dealers in it."),
    # Customer base (as of E)
    _k(CUSTOMER_BASE, "customer_base", "Customer base", "维护客户数", "count", "higher",
       "Customers with a delivery or a service visit opened before E."),
    _k(CUSTOMER_BASE, "active_12m", "Customers serviced in 12 months", "1年内到访工厂的客户", "count", "higher",
       "Customers with ≥ 1 service visit opened in the 12 months before E."),
    _k(CUSTOMER_BASE, "active_24m", "Customers serviced in 24 months", "本店维修客户数", "count", "higher",
       "Customers with ≥ 1 service visit opened in the 24 months before E."),
    _k(CUSTOMER_BASE, "frequent_customers", "Frequent customers", "常客数量", "count", "higher",
       "Customers with ≥ 4 service visits opened in the 12 months before E."),
    _k(CUSTOMER_BASE, "occasional_customers", "Occasional customers", "偶尔到店客户数", "count", None,
       "Customers with exactly 1 service visit opened in the 12 months before E."),
    _k(CUSTOMER_BASE, "lapsed_12m", "Lapsed customers (12 months)", "过去12个月内未进站维护的客户数", "count",
       "lower", "Customers whose base date is before E − 12 months, with no service visit opened in the "
       "12 months before E."),
    _k(CUSTOMER_BASE, "active_self_sold_12m", "Self-sold customers serviced in 12 months", "一年内到厂的自销客户",
       "count", "higher", "Customers with a delivery before E and ≥ 1 service visit opened in the 12 months "
       "before E."),
    _k(CUSTOMER_BASE, "new_customers", "New customers", "新增客户数", "count", "higher",
       "Customers whose base date is in P (new buyers plus first-time service customers)."),
    _k(CUSTOMER_BASE, "churn_rate", "Churn rate", "客户流失率", "rate", "lower",
       "Of the customers serviced in [E − 24 months, E − 12 months), the share with no service visit in the "
       "12 months before E."),
    # Traffic and cost (客户保留成本)
    _k(TRAFFIC, "traffic", "Traffic", "本月参观人数 (客流量)", "count", "higher",
       "Visits in P of kind showroom, off-site or inbound call."),
    _k(TRAFFIC, "online_leads", "Online leads", "线上线索", "count", "higher", "Visits in P of kind online."),
    _k(TRAFFIC, "traffic_plan", "Planned traffic", "计划顾客数", "count", None, "The planned traffic for P."),
    _k(TRAFFIC, "traffic_achievement", "Traffic achievement", "客流达成率", "rate", "higher",
       "traffic / traffic_plan."),
    _k(TRAFFIC, "traffic_growth_yoy", "Traffic growth year on year", "入境客户增长率", "rate", "higher",
       "(traffic(P) − traffic(P − 12 months)) / traffic(P − 12 months)."),
    _k(TRAFFIC, "promo_cost_total", "Promotion cost", "本月促销费用总额", "money", "lower",
       "Sum of campaign cost entries incurred in P."),
    _k(TRAFFIC, "cost_per_visitor", "Cost per visitor", "客流成本", "money", "lower",
       "promo_cost_total / traffic."),
    _k(TRAFFIC, "promo_cost_per_vehicle", "Promotion cost per vehicle", "单车促销费用", "money", "lower",
       "promo_cost_total / deliveries."),
    # Sales process (客户保留流程管理)
    _k(SALES, "orders", "Orders", "新车订单量", "count", "higher", "Orders placed in P.", by_person=True),
    _k(SALES, "deliveries", "Deliveries", "新车交车量", "count", "higher", "Orders delivered in P.",
       by_person=True),
    _k(SALES, "new_car_gross_profit", "New-car gross profit (with rebate)", "新车销售毛利(含返利)", "money",
       "higher", "Sum over deliveries in P of gross profit + OEM rebate.", by_person=True),
    _k(SALES, "test_drives", "Test drives", "试驾次数", "count", "higher", "Test drives in P.", by_person=True),
    _k(SALES, "test_drive_customers", "Test-drive customers", "试驾客户数", "count", "higher",
       "Distinct customers with a test drive in P.", by_person=True),
    _k(SALES, "test_drive_rate", "Test-drive rate", "试驾率", "rate", "higher",
       "Test drives in P / showroom visits in P."),
    _k(SALES, "referral_deals", "Referral deals", "老客户推荐成交数", "count", "higher",
       "Orders placed in P by customers referred by an existing customer.", by_person=True),
    _k(SALES, "referral_rate", "Referral rate", "推荐成交率", "rate", "higher", "referral_deals / orders."),
    _k(SALES, "close_rate", "Close rate", "销售成交率", "rate", "higher",
       "Distinct customers with an order placed in P / customers who entered target in P (can exceed 1).",
       by_person=True),
    _k(SALES, "intent_lost", "Lost intent customers", "意向客户流失数", "count", "lower",
       "Customers marked lost in P while at stage target.", by_person=True),
    _k(SALES, "intent_loss_rate", "Intent loss rate", "意向客户流失率", "rate", "lower",
       "intent_lost / (customers at target, not lost, at the start of P + customers who entered target in P).",
       by_person=True),
    _k(SALES, "aftersales_revenue", "After-sales revenue", "售后产值", "money", "higher",
       "Revenue of service visits closed in P.", by_person=True),
    _k(SALES, "city_brand_avg_sales", "Average brand sales per store in the city", "本城市该品牌4S店平均销量",
       "count", None, "City brand sales in P / same-brand stores in the city."),
    _k(SALES, "market_share", "Market share", "市场占有率", "rate", "higher",
       "Deliveries / city brand sales in P."),
    # Funnel: cohort rates (能力曲线)
    _k(FUNNEL, "capture_rate", "Capture rate", "集客率", "rate", "higher",
       "Of the customers who entered market in P, the share that has entered potential since."),
    _k(FUNNEL, "retention_rate", "Retention rate", "留客率", "rate", "higher",
       "Of the customers who entered potential in P, the share that has entered target since."),
    _k(FUNNEL, "funnel_close_rate", "Funnel close rate", "成交率", "rate", "higher",
       "Of the customers who entered target in P, the share that has entered real since."),
    _k(FUNNEL, "return_rate", "Return rate", "回厂率", "rate", "higher",
       "Of the customers who entered real in P, the share that has entered lifetime since."),
    _k(FUNNEL, "keep_rate", "Keep rate", "保有率", "rate", "higher",
       "Of the customers who entered lifetime in P, the share that has entered loyal since."),
    *[
        _k(FUNNEL, f"stage_{stage}", f"Customers at stage {name}", f"各阶段客户数: {zh}", "count", None,
           f"Customers at stage {stage} at E, not lost.")
        for stage, name, zh in STAGES
    ],
]

# (lower stage, next stage) of each funnel gate, by KPI code.
FUNNEL_GATES: dict[str, tuple[str, str]] = {
    "capture_rate": ("market", "potential"),
    "retention_rate": ("potential", "target"),
    "funnel_close_rate": ("target", "real"),
    "return_rate": ("real", "lifetime"),
    "keep_rate": ("lifetime", "loyal"),
}

_CAMPAIGN_METRICS: list[KpiDef] = [
    _k(CAMPAIGN, "cost", "Cost", "活动费用", "money", "lower", "Sum of its cost entries."),
    _k(CAMPAIGN, "attendees", "Attendees", "到场人数", "count", "higher", "Visits linked to the campaign."),
    _k(CAMPAIGN, "leads", "Leads", "线索数", "count", "higher", "Customers attributed to the campaign."),
    _k(CAMPAIGN, "deals", "Deals", "成交数", "count", "higher",
       "Orders of its leads placed no later than its end date + its cycle."),
    _k(CAMPAIGN, "gross_profit", "Gross profit", "边际贡献", "money", "higher",
       "Sum over its deals of gross profit + OEM rebate."),
    _k(CAMPAIGN, "roi", "ROI", "投资回报率", "rate", "higher", "(gross_profit − cost) / cost."),
    _k(CAMPAIGN, "messages_delivered", "Messages delivered", "信息传递数量", "count", "higher",
       "Its reach (messages delivered / people reached)."),
    _k(CAMPAIGN, "inquiry_rate", "Enquiry rate", "信息咨询率", "rate", "higher", "Enquiries / reach."),
    _k(CAMPAIGN, "info_retention_rate", "Information retention rate", "信息留存率", "rate", "higher",
       "Attendees linked to a customer / attendees."),
    _k(CAMPAIGN, "invite_to_store_rate", "Invitation-to-store rate", "邀约到店率", "rate", "higher",
       "Attendees who came on an invitation / invitations."),
    _k(CAMPAIGN, "periodic_close_rate", "Periodic close rate", "周期类成单率", "rate", "higher", "Deals / leads."),
    _k(CAMPAIGN, "break_even_deals", "Break-even deals", "盈亏平衡成交数", "count", None,
       "ceil((fixed cost + variable cost per attendee × A) / contribution per deal); A = attendees, or the "
       "planned attendance before the event."),
    _k(CAMPAIGN, "break_even_rate", "Break-even success rate", "盈亏平衡成功率", "rate", "lower",
       "break_even_deals / A."),
]

CAMPAIGN_ROI = _k(CAMPAIGN, "campaign_roi", "Campaign ROI by channel", "渠道投资回报率", "rate", "higher",
                  "Over the campaigns that end in P: (Σ gross_profit − Σ cost) / Σ cost, per channel and overall.")

KPIS: dict[str, KpiDef] = {d.code: d for d in _STORE_KPIS}
CAMPAIGN_METRICS: dict[str, KpiDef] = {d.code: d for d in _CAMPAIGN_METRICS}
BY_PERSON_CODES: frozenset[str] = frozenset(code for code, d in KPIS.items() if d.by_person)


def kpi(code: str) -> KpiDef:
    """The definition of a store KPI, a campaign metric or campaign_roi; KeyError for an unknown code."""
    if code in KPIS:
        return KPIS[code]
    if code in CAMPAIGN_METRICS:
        return CAMPAIGN_METRICS[code]
    if code == CAMPAIGN_ROI.code:
        return CAMPAIGN_ROI
    raise KeyError(code)


def kpis_of_family(family: str) -> list[KpiDef]:
    return [d for d in KPIS.values() if d.family == family]


def status_of(value: float | None, target: object | None) -> StatusName:
    """ok where the value meets the target, warn between target and control line, alert beyond it.

    `target` is anything with `target`, `control_line` and `direction` (a KpiTarget row). The control
    line itself is still `warn`: the alert is for values *beyond* it (kpis.md).
    """
    if value is None or target is None:
        return "none"
    goal, line, direction = float(target.target), float(target.control_line), target.direction
    if direction == "higher":
        if value >= goal:
            return "ok"
        return "warn" if value >= line else "alert"
    if value <= goal:
        return "ok"
    return "warn" if value <= line else "alert"
