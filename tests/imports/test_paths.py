"""The set-based COPY path and the row-by-row path give the same customers, stages, entered_* columns,
history, service visits and stale months for the same file (PostgreSQL only: COPY)."""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from aftersales.models import ServiceVisit
from aftersales.services import service_visit_create
from customers.models import LAST_SERVICES, Customer, StageChange
from customers.services import customer_create, customer_move_stage
from dealership.models import Role, StaleMonth
from kpis import stage_runs, visit_runs
from sales.services import order_create
from tests.factories import DealershipFactory, UserFactory
from tests.imports.conftest import messages
from tests.kpis.conftest import KeptRuns

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="COPY needs PostgreSQL"),
]

CST = dt.timezone(dt.timedelta(hours=8))
T = dt.datetime(2024, 1, 10, 9, 0, tzinfo=CST)


def day(n: int, hour: int = 9) -> str:
    return (T + dt.timedelta(days=n)).replace(hour=hour).strftime("%Y-%m-%d %H:%M")


def build_store(code: str):
    """The same cast in each store: prospects, buyers at real, lifetime and loyal, old repair orders."""
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
    # A regular: his latest four are kept; the file's visit (S9) falls between them.
    for k, days in enumerate([-40, -30, -20, 100]):
        service_visit_create(customer=people[8], opened_at=T + dt.timedelta(days=days), external_id=f"S-C8-{k}")
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
                                 c.last_contact_at, c.first_service_at, c.stage_changed_at,
                                 *(getattr(c, column) for column in LAST_SERVICES))
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


def test_the_copy_path_is_seen_by_the_kpi_engines_kept_runs(write_csv, run_import):
    """The COPY path inserts with the foreign-key triggers off (session_replication_role); the kept runs'
    triggers still fire, so a refresh after the import equals a build (kpis.visit_runs, kpis.stage_runs)."""
    store, advisor = build_store("KEPT")
    kept = [KeptRuns(visit_runs, "kpi_visit"), KeptRuns(stage_runs, "kpi_stage")]
    before = [runs.refreshed(store) for runs in kept]
    report = run_import("service_visits", write_csv(file_rows(advisor.username)), dealership=store, method="copy")
    assert report.ok, messages(report)
    for runs, old in zip(kept, before):
        assert runs.changed(store) > 0
        new = runs.refreshed(store)
        assert new != old
        assert new == runs.built(store)


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


def test_a_plain_looking_impossible_date_is_reported_like_the_row_path_after_a_careful_second_reading(
        write_csv, run_import, tmp_path, caplog):
    # 2024-02-30 has the shape SQL reads, but no cast can take it: the cells are read again, each checked
    # before its cast, and the row goes to the Python parser, which words the message.
    store, advisor = build_store("FEB")
    path = write_csv([
        ["external_id", "customer", "opened_at", "closed_at", "revenue"],
        ["F1", "C3", "2024-02-30 10:00", "", "1"],
        ["F2", "C4", "2024-02-10 10:00", "2024-02-10 25:00", "1"],
        ["F3", "C5", "2024-02-10 10:00", "", "1e400"],
    ])
    with caplog.at_level("INFO", logger="imports.copy_path"):
        by_copy = run_import("service_visits", path, dealership=store, method="copy",
                             bad_rows_path=tmp_path / "copy-bad.csv")
    by_rows = run_import("service_visits", path, dealership=store, method="rows",
                         bad_rows_path=tmp_path / "rows-bad.csv")

    assert "reading the cells again" in caplog.text
    assert sorted(messages(by_copy)) == sorted(messages(by_rows)) and len(messages(by_rows)) == 3
    assert (tmp_path / "copy-bad.csv").read_text("utf-8-sig") == (tmp_path / "rows-bad.csv").read_text("utf-8-sig")
    assert not ServiceVisit.objects.filter(external_id__startswith="F").exists()


def test_cells_sql_does_not_read_go_to_the_python_parsers_and_give_the_same_records(write_csv, run_import, caplog):
    # Forms a DMS or Excel writes besides the plain ones: white space around a value (an ideographic
    # space too), thousands separators and currency signs, slashes, a T, seconds, capitals, dashes in a
    # phone, a yes-word with .0; and two buyers whose visits tie at the first instant in either order.
    header = ["外部编号", "客户编号", "客户手机号", "服务顾问", "VIN", "维修类型", "进厂时间", "结算时间", "产值", "保修期内"]
    rows = [
        [" M1", "C3 ", "", "ADV", " lvvdb11b000000009", "MAINTENANCE", "2024/1/12 9:00", "", "1,200.00", "YES"],
        ["M2", "\u3000C4", "", "", "", " 维修", "2024-01-12T10:30", "2024-01-12T11:30:15", "¥300", "1.0"],
        ["M3", "", "139-0000-0006", "", "", "Repair", "2024-01-13 08:00:59", "", "300元", "否"],
        ["M4", "C5", "", "", "", "", "2024-01-14", "", "0.5", "是"],        # date only: 00:00
        ["M5", "C5", "", "", "", "", "2024-01-14", "", "1", "否"],          # the same instant, after in warranty
        ["M6", "C3", "", "", "", "", "2024-02-01", "", "1", "否"],
        ["M7", "C9", "", "", "", "", "2024-01-14", "", "1", "否"],          # out of warranty first...
        ["M8", "C9", "", "", "", "", "2024-01-14", "", "1", "是"],          # ...then in, at the same instant
        ["M9", "C6", "", "", "", "", "2024-01-15 07:00", "", "12.345", "是"],  # three decimals: Python rounds
    ]

    def file(advisor: str, name: str):
        return write_csv([header] + [[advisor if c == "ADV" else c for c in r] for r in rows], name=name)

    rows_store, rows_advisor = build_store("ROWS")
    copy_store, copy_advisor = build_store("COPY")
    by_rows = run_import("service_visits", file(rows_advisor.username, "a.csv"), dealership=rows_store,
                         method="rows")
    with caplog.at_level("INFO", logger="imports.copy_path"):
        by_copy = run_import("service_visits", file(copy_advisor.username, "b.csv"), dealership=copy_store,
                             method="copy")

    assert by_rows.ok and by_copy.ok, (messages(by_rows), messages(by_copy))
    assert "5 rows read in SQL, 4 handed to the Python parsers" in caplog.text
    rows, copy = snapshot(rows_store), snapshot(copy_store)
    assert (copy["customers"], copy["history"], copy["visits"], copy["months"]) == \
        (rows["customers"], rows["history"], rows["visits"], rows["months"])
    reasons = {(h[0], h[3]): h[5] for h in rows["history"] if h[0] in ("C5", "C9") and h[5].startswith("service")}
    assert reasons == {("C5", "lifetime"): "service_in_warranty", ("C5", "loyal"): "service",
                       ("C9", "lifetime"): "service", ("C9", "loyal"): "service"}


def test_a_plain_file_is_read_in_sql_whole(write_csv, run_import, caplog):
    # The speed of a big import rests on this: no row of plain cells goes to the Python parsers.
    store, advisor = build_store("PLAIN")
    rows = file_rows(advisor.username)
    rows[4][2] = ""  # S4 by phone as digits only
    rows[4][1] = "C4"
    path = write_csv(rows)
    with caplog.at_level("INFO", logger="imports.copy_path"):
        report = run_import("service_visits", path, dealership=store, method="copy")
    assert report.ok, messages(report)
    assert "12 rows read in SQL, 0 handed to the Python parsers" in caplog.text


def test_visits_on_either_side_of_a_local_month_end_within_one_utc_day_mark_both_months(write_csv, run_import):
    # 23:30 on 31 January and 00:30 on 1 February in Shanghai are one UTC day (15:30 and 16:30 on the 31st).
    rows_store, _ = build_store("ROWS")
    copy_store, _ = build_store("COPY")
    StaleMonth.objects.all().delete()
    rows = [["external_id", "customer", "opened_at", "closed_at"],
            ["E1", "C1", "2024-01-31 23:30", ""], ["E2", "C2", "2024-02-01 00:30", "2024-03-01 00:10"]]
    run_import("service_visits", write_csv(rows, name="a.csv"), dealership=rows_store, method="rows")
    run_import("service_visits", write_csv(rows, name="b.csv"), dealership=copy_store, method="copy")
    assert snapshot(copy_store)["months"] == snapshot(rows_store)["months"] == [
        dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]


def test_the_copy_path_skips_the_row_checks_it_made_and_keeps_them_for_every_later_write(
        write_csv, run_import, caplog):
    store, advisor = build_store("SKIP")
    with caplog.at_level("INFO", logger="imports.copy_path"):
        report = run_import("service_visits", write_csv(file_rows(advisor.username)), dealership=store, method="copy")
    assert report.ok, messages(report)
    assert "import row checks skipped (checked set-based)" in caplog.text  # the suite's role is a superuser
    # Back on for the rest of the transaction: a visit of a customer who does not exist is refused.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO aftersales_servicevisit (dealership_id, customer_id, vin, kind, opened_at, revenue,"
                       " in_warranty) VALUES (%s, -1, '', 'repair', now(), 0, false)", [store.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_database_role_that_may_not_skip_the_row_checks_imports_the_same(write_csv, run_import, caplog):
    rows_store, rows_advisor = build_store("ROWS")
    copy_store, copy_advisor = build_store("COPY")
    role = f"import_plain_{os.getpid()}"  # roles are the cluster's: one per test process
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER; GRANT ALL ON ALL TABLES IN SCHEMA public TO {role};"
                       f" GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}; SET ROLE {role}")
    try:
        with caplog.at_level("INFO", logger="imports.copy_path"):
            by_copy = run_import("service_visits", write_csv(file_rows(copy_advisor.username), name="b.csv"),
                                 dealership=copy_store, method="copy")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    by_rows = run_import("service_visits", write_csv(file_rows(rows_advisor.username), name="a.csv"),
                         dealership=rows_store, method="rows")
    assert by_copy.ok and by_rows.ok, (messages(by_copy), messages(by_rows))
    assert "import row checks kept (role may not skip them)" in caplog.text
    rows, copy = snapshot(rows_store), snapshot(copy_store)
    assert (copy["customers"], copy["history"], copy["visits"]) == (rows["customers"], rows["history"], rows["visits"])


def test_the_references_of_the_rows_are_locked_and_found_or_the_import_stops():
    from imports.copy_path import _references_locked

    store, advisor = build_store("LOCK")
    ann, bob = Customer.objects.filter(dealership=store).order_by("pk")[:2]

    def found(*refs, user=None) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS imp_row, imp_user;"
                           " CREATE TEMP TABLE imp_row (customer_id bigint, store_id bigint, advisor_id bigint)")
            cursor.executemany("INSERT INTO imp_row VALUES (%s, %s, %s)", refs)
            return _references_locked(cursor, user)

    assert found((ann.pk, store.pk, advisor.pk), (bob.pk, store.pk, None), (ann.pk, store.pk, None), user=advisor)
    assert not found((ann.pk, store.pk, None), (-5, store.pk, None))  # deleted meanwhile
    assert not found((ann.pk, store.pk + 1000, None))  # not that store's customer
    assert not found((ann.pk, store.pk, -7))  # an advisor deleted meanwhile
