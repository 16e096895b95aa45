"""The figures of shared/spec/demo-data.md, as parameters. A store of size 1.0 is the spec's 'typical' store."""
from __future__ import annotations

# Index per calendar month (Jan..Dec), mean 1.0.
SEASON_ORDERS = [1.05, 0.65, 0.95, 0.90, 0.95, 1.05, 0.90, 0.95, 1.10, 1.10, 1.10, 1.30]
SEASON_SERVICE = [1.15, 0.75, 1.00, 1.00, 1.00, 1.00, 1.05, 1.00, 1.05, 0.95, 1.00, 1.05]
# Marketing spend leads the peaks (spring, 金九银十, the year-end push) and dips at Spring Festival.
SEASON_MARKETING = [1.0, 0.6, 1.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.3, 1.0, 1.3, 1.0]

# New people per store-month (size 1.0) by how they reach the store.
MONTHLY_LEADS = {
    "list": 260,      # the ~40% invalid raw online leads and purchased names: they stay `market` mostly
    "online": 390,    # valid online enquiries
    "phone": 110,     # inbound calls
    "walk_in": 230,   # first walk-ins (some stay anonymous)
    "referral": 25,   # sent by an owner
}
ANONYMOUS_WALK_INS = 0.12          # walk-ins who leave no contact data
ONLINE_SOURCES = {"online_ads": 0.45, "social": 0.30, "oem_app": 0.20, "other": 0.05}
INVITE_TO_STORE = {"online": 0.36, "phone": 0.40, "list": 0.30}
LIST_CONTACT_RATE = 0.10           # market names that ever call or visit
RETURN_VISIT = 0.35                # showroom visitors who come back a second time
TEST_DRIVE = {"online": 0.60, "phone": 0.60, "walk_in": 0.50, "referral": 0.70, "list": 0.45}
# Probability of an order, with / without a test drive (before the consultant's skill factor).
ORDER_WITH_TD = {"online": 0.35, "phone": 0.38, "walk_in": 0.20, "referral": 0.55, "list": 0.25}
ORDER_WITHOUT_TD = {"online": 0.05, "phone": 0.08, "walk_in": 0.03, "referral": 0.15, "list": 0.03}
HAND_MOVE_TO_TARGET = 0.12         # showroom visitors a consultant qualifies by hand (a quote, a plan)
LOST_TARGET, LOST_POTENTIAL = 0.60, 0.25
REACTIVATED, ORDER_AFTER_REACTIVATION = 0.10, 0.30
REPEAT_ORDERS_PER_MONTH = 3        # owners buying a second car (→ loyal)
CANCELLED_ORDERS = 0.03
LOST_REASONS = ["价格不合适", "选择了竞品", "购车计划推迟", "贷款未获批", "联系不上", "对配置不满意", "离店太远"]

CONSULTANTS_PER_STORE, ADVISORS_PER_STORE = 10, 3.5
CONSULTANT_SKILL_SIGMA = 0.55      # lognormal spread of units per consultant (best 15–20, weakest 3–5)

# Car lines: (name, price low, price high) in CNY, and how often each is bought (average ~150k).
CAR_MODELS = [("卡罗拉", 90_000, 135_000), ("雷凌", 95_000, 140_000), ("凯美瑞", 175_000, 250_000),
              ("RAV4荣放", 170_000, 260_000), ("威兰达", 160_000, 240_000), ("亚洲龙", 190_000, 260_000),
              ("锋兰达", 120_000, 160_000)]
CAR_MODEL_WEIGHTS = [0.26, 0.16, 0.12, 0.14, 0.06, 0.04, 0.22]
MARGIN_MEAN, MARGIN_WORST_MONTHS = -0.04, {6, 12}   # front-end margin, worst in June and December
REBATE_MEAN = 0.055

# After-sales.
LEGACY_OWNER_YEARS = 4             # owners who bought in the years before the history starts (DMS import)
SERVICE_HISTORY_MONTHS = 12        # service records kept from this long before the history starts
FIRST_SERVICE = 0.90               # come to the first service
FIRST_SERVICE_DAYS = (75, 240)
SERVICE_GAP_DAYS_MEAN = 200        # lognormal gap between visits
SERVICE_KEEP_AFTER_VISIT = 0.70    # chance to come again after a visit (churn ~35 % a year)
EXTRA_REPAIRS_PER_YEAR = 1.3       # unplanned visits (repair, accident, warranty) of an active owner
OUTSIDE_SERVICE_PER_MONTH = 120    # service customers who bought their car elsewhere
SERVICE_MIX = {"maintenance": 0.60, "repair": 0.20, "accident": 0.12, "warranty": 0.08}
SERVICE_REVENUE = {"maintenance": (400, 900), "repair": (500, 2_500), "accident": (1_500, 6_000),
                   "warranty": (300, 1_500)}
WARRANTY_YEARS = 3
CALLBACK_DONE, CALLBACK_REACHED = 0.975, 0.92

# Marketing, one store-year (size 1.0): channel → (campaigns a year, cost each, leads each).
CAMPAIGNS = {
    "online_ads": (16, 34_000, 250),
    "social": (24, 11_000, 100),
    "kol": (6, 18_000, 60),
    "offline_ads": (6, 22_000, 0),
    "event": (16, 18_500, 80),
}

# The market: city brand sales a month (the brand's ~2.5 % of the city) and same-brand stores.
SURVEY_REGION, SURVEY_DEALERS = "浙江", 15
SURVEY_MEAN, SURVEY_SD = (92.0, 96.0), 2.0
