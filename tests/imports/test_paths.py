"""The set-based COPY path and the row-by-row path give the same customers, stages, entered_* columns,
history, service visits and stale months for the same file (PostgreSQL only: COPY)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection  # noqa: F401  (read by the skipif strings)

from aftersales.models import ServiceVisit
from aftersales.services import service_visit_create
from customers.models import Customer, StageChange
from customers.services import customer_create, customer_move_stage
from dealership.models import Role, StaleMonth
from sales.services import order_create
from tests.factories import DealershipFactory, UserFactory
from tests.imports.conftest import messages

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="COPY needs PostgreSQL"),
]

CST = dt.timezone(dt.timedelta(hours=8))
T = dt.datetime(2024, 1, 10, 9, 0, tzinfo=CST)


def day(n: int, hour: int = 9) -> str:
    return (T + dt.timedelta(days=n)).replace(hour=hour).strftime("%Y-%m-%d %H:%M")


def build_store(code: str):
    """The same cast in each store: prospects, buyers at real, lifetime and loyal, one old repair order."""
    store = DealershipFactory(code=code)
    advisor = UserFactory(username=f"adv-{code}", role=Role.ADVISOR, dealership=store)
    people = {}
    for i, stage in enumerate(["market", "potential", "target", "real", "real", "real", "real", "lifetime",
                               "loyal", "real"]):
        people[i] = customer_create(dealership=store, name=f"c{i}", phone=f"1390000{i:04d}", stage=stage,
                                    external_id=f"C{i}", created_at=T - dt.timedelta(days=30))
    order_create(customer=people[9], ordered_at=T - dt.timedelta(days=5))  # real through an order
    customer_move_stage(customer=people[6], stage="loyal", at=T + dt.timedelta(days=50))
    customer_move_stage(customer=people[6], stage="real", at=T + dt.timedelta(days=51))  # a hand move back
    service_visit_create(customer=people[0], opened_at=T - dt.timedelta(days=3), external_id="S-OLD",
                         revenue=Decimal("100"))
    return store, advisor


def file_rows(advisor_of: str) -> list[list]:
    header = ["外部编号", "客户编号", "客户手机号", "服务顾问", "VIN", "维修类型", "进厂时间", "结算时间", "产值", "保修期内"]
    rows = [
        ["S1", "C0", "", "", "", "保养", day(1), day(1, 12), "300", "是"],      # prospect: no move
        ["S2", "C3", "", "ADV", "lvvdb11b000000001", "保养", day(2), day(2, 11), "500", "是"],  # real → lifetime
        ["S3", "C3", "", "ADV", "", "repair", day(9), "", "1200.5", "否"],      # then lifetime → loyal
        ["S4", "", "1390000-0004", "", "", "", day(3), day(3, 18), "", "no"],   # by phone: real → loyal
        ["S5", "C5", "", "", "", "warranty", day(4), day(4, 10), "0", "yes"],   # tie: in warranty first...
        ["S6", "C5", "", "", "", "repair", day(4), day(4, 10), "80", "no"],     # ...then out, same instant
        ["S7", "C6", "", "", "", "", day(5), "", "10", "1"],                    # entered_loyal_at kept earlier
        ["S8", "C7", "", "", "", "", day(6), "", "10", "0"],                    # lifetime → loyal
        ["S9", "C8", "", "", "", "", day(7), "", "10", "0"],                    # loyal: no move
        ["S-OLD", "C9", "", "", "", "accident", day(8), day(8, 20), "990", "0"],  # an update moves C9 too
        ["", "C9", "", "", "", "", day(2), "", "5", "1"],                       # earlier, no external id
        ["S10", "C1", "", "", "", "", day(60), "", "5", "0"],                   # prospect again
    ]
    return [header] + [[c.replace("ADV", advisor_of) if c == "ADV" else c for c in r] for r in rows]


def snapshot(store) -> dict:
    customers = {c.external_id: (c.stage, c.is_lost, c.entered_market_at, c.entered_potential_at,
                                 c.entered_target_at, c.entered_real_at, c.entered_lifetime_at, c.entered_loyal_at,
                                 c.last_contact_at)
                 for c in Customer.objects.filter(dealership=store)}
    history = sorted((h.customer.external_id, h.kind, h.from_stage, h.to_stage, h.at, h.reason)
                     for h in StageChange.objects.filter(customer__dealership=store).select_related("customer"))
    visits = sorted((v.external_id or "", v.customer.external_id, v.advisor_id is not None, v.vin, v.kind, v.opened_at,
                     v.closed_at, v.revenue, v.in_warranty)
                    for v in ServiceVisit.objects.filter(dealership=store).select_related("customer"))
    months = sorted(StaleMonth.objects.filter(dealership=store).values_list("period", flat=True))
    return {"customers": customers, "history": history, "visits": visits, "months": months}


def test_the_copy_path_and_the_row_path_give_the_same_customers_history_and_visits(write_csv, run_import):
    rows_store, rows_advisor = build_store("ROWS")
    copy_store, copy_advisor = build_store("COPY")
    StaleMonth.objects.all().delete()

    by_rows = run_import("service_visits", write_csv(file_rows(rows_advisor.username), name="a.csv"),
                         dealership=rows_store, method="rows")
    by_copy = run_import("service_visits", write_csv(file_rows(copy_advisor.username), name="b.csv"),
                         dealership=copy_store, method="copy")

    assert by_rows.ok and by_copy.ok, (messages(by_rows), messages(by_copy))
    assert (by_copy.created, by_copy.updated) == (by_rows.created, by_rows.updated) == (11, 1)
    rows, copy = snapshot(rows_store), snapshot(copy_store)
    assert copy["customers"] == rows["customers"]
    assert copy["history"] == rows["history"]
    assert copy["visits"] == rows["visits"]
    assert copy["months"] == rows["months"]
    # and the file did move people, so that the comparison means something
    assert rows["customers"]["C3"][0] == "loyal" and rows["customers"]["C0"][0] == "market"


def test_the_copy_path_reports_bad_rows_like_the_row_path_and_writes_nothing(write_csv, run_import, tmp_path):
    store, advisor = build_store("BAD")
    before = ServiceVisit.objects.count(), StageChange.objects.count()
    path = write_csv([
        ["external_id", "customer", "customer_phone", "advisor", "opened_at", "closed_at", "revenue"],
        ["X1", "C3", "", "nobody", "2024-02-01 10:00", "2024-02-01 09:00", "-5"],
        ["X1", "NOPE", "", "", "yesterday", "", "1"],
        ["X2", "", "13811112222", "", "2024-02-01 10:00", "", "1"],
    ])
    by_copy = run_import("service_visits", path, dealership=store, method="copy",
                         bad_rows_path=tmp_path / "copy-bad.csv")
    by_rows = run_import("service_visits", path, dealership=store, method="rows",
                         bad_rows_path=tmp_path / "rows-bad.csv")

    assert sorted(messages(by_copy)) == sorted(messages(by_rows))
    assert by_copy.bad_rows == by_rows.bad_rows == 3
    assert (ServiceVisit.objects.count(), StageChange.objects.count()) == before
    assert (tmp_path / "copy-bad.csv").read_text("utf-8-sig") == (tmp_path / "rows-bad.csv").read_text("utf-8-sig")


@pytest.mark.parametrize("shape", ["ragged-csv", "xlsx", "gbk"])
def test_files_copy_cannot_take_as_they_are_give_the_same_result_through_the_python_reader(
        write_csv, write_xlsx, run_import, shape, caplog):
    rows_store, rows_advisor = build_store("ROWS")
    copy_store, copy_advisor = build_store("COPY")

    def file(advisor: str, name: str):
        rows = file_rows(advisor)
        if shape == "xlsx":
            return write_xlsx(rows, name=f"{name}.xlsx")
        if shape == "ragged-csv":  # a trailing empty cell on one row: PostgreSQL's COPY refuses the file
            rows[3] = rows[3] + [""]
        return write_csv(rows, name=f"{name}.csv", encoding="gbk" if shape == "gbk" else "utf-8-sig")

    by_rows = run_import("service_visits", file(rows_advisor.username, "a"), dealership=rows_store, method="rows")
    by_copy = run_import("service_visits", file(copy_advisor.username, "b"), dealership=copy_store, method="copy")
    assert by_rows.ok and by_copy.ok, (messages(by_rows), messages(by_copy))
    rows, copy = snapshot(rows_store), snapshot(copy_store)
    assert (copy["customers"], copy["history"], copy["visits"]) == (rows["customers"], rows["history"], rows["visits"])
