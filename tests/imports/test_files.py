"""Bad files get a clear report, by row and column, and nothing is written; good files in every
encoding and format Excel or a DMS produces are read."""
from __future__ import annotations

import csv

import pytest
from django.utils import translation

from customers.models import Customer, StageChange
from dealership.models import StaleMonth
from sales.models import Visit
from tests.factories import CustomerFactory
from tests.imports.conftest import messages

pytestmark = pytest.mark.django_db

HEADER = ["外部编号", "客户姓名", "手机号", "来源", "顾问", "建档时间"]
GOOD = ["C1", "张三", "139 1234 5678", "展厅", "wang", "2025-03-01 09:00"]


def nothing_written() -> bool:
    return not Customer.objects.exists() and not StageChange.objects.exists() and not StaleMonth.objects.exists()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_a_csv_in_utf8_with_or_without_bom_or_in_gbk_is_read(store, consultant, write_csv, run_import, encoding):
    report = run_import("customers", write_csv([HEADER, GOOD], encoding=encoding), dealership=store)
    assert report.ok, messages(report)
    assert Customer.objects.get().name == "张三"


def test_an_xlsx_workbook_is_read_with_excel_dates_and_numbers(store, consultant, write_xlsx, run_import):
    import datetime as dt

    path = write_xlsx([HEADER, ["C1", "张三", 13912345678, "来电", "wang", dt.datetime(2025, 3, 1, 9, 0)]])
    report = run_import("customers", path, dealership=store)
    assert report.ok, messages(report)
    customer = Customer.objects.get()
    assert (customer.phone, customer.source) == ("13912345678", "phone")
    assert customer.created_at == dt.datetime(2025, 3, 1, 9, 0, tzinfo=store.tzinfo)  # the store's local time


def test_a_file_in_neither_utf8_nor_gbk_is_refused(store, consultant, tmp_path, run_import):
    path = tmp_path / "latin1.csv"
    path.write_bytes(",".join(HEADER).encode("utf-8") + b"\nC1,Ren\xe9,13912345678\xff\xfe,,,\n")
    report = run_import("customers", path, dealership=store)
    assert not report.ok
    assert "UTF-8" in report.errors[0]["message"] and "GBK" in report.errors[0]["message"]
    assert nothing_written()


def test_a_missing_required_column_is_named(store, write_csv, run_import):
    path = write_csv([["门店代码", "客户编号", "类型"], ["HZ001", "", "展厅"]])
    report = run_import("visits", path)
    assert (1, "occurred_at", "Missing required column occurred_at (到店时间).") in messages(report)
    assert not Visit.objects.exists()


def test_an_unknown_header_is_named_with_the_accepted_ones(store, write_csv, run_import):
    report = run_import("customers", write_csv([HEADER + ["微信号"], GOOD + ["wx1"]]), dealership=store)
    [(row, column, message)] = messages(report)
    assert (row, column) == (1, "微信号")
    assert message.startswith("Unknown column 微信号. Accepted:") and "phone (手机号)" in message
    assert nothing_written()


def test_bad_dates_are_reported_by_row_and_column_and_the_good_rows_are_not_written(store, consultant, write_csv,
                                                                                     run_import):
    rows = [HEADER, GOOD, ["C2", "李四", "13900000002", "来电", "wang", "2025-02-30"],
            ["C3", "王五", "13900000003", "来电", "wang", "下周一"]]
    report = run_import("customers", write_csv(rows), dealership=store)
    assert messages(report) == [
        (3, "建档时间", "Not a date and time: 2025-02-30 (write 2025-03-05 14:30)."),
        (4, "建档时间", "Not a date and time: 下周一 (write 2025-03-05 14:30)."),
    ]
    assert report.bad_rows == 2
    assert nothing_written()


def test_an_amount_too_large_for_any_decimal_is_reported_not_a_crash(store, write_csv, run_import):
    # 1e400 is a number, but quantizing it to cents overflows Python's decimals.
    rows = [["customer", "opened_at", "revenue"], ["C1", "2025-03-01 09:00", "1e400"]]
    report = run_import("service_visits", write_csv(rows), dealership=store, method="rows")
    assert (2, "revenue", "Too large an amount.") in messages(report)


def test_an_unknown_consultant_is_reported(store, consultant, write_csv, run_import):
    report = run_import("customers", write_csv([HEADER, GOOD[:4] + ["nobody", GOOD[5]]]), dealership=store)
    assert messages(report) == [(2, "顾问", "Unknown user nobody in this store.")]
    assert nothing_written()


def test_a_consultant_of_another_store_is_unknown_here(store, other_store, write_csv, run_import):
    from tests.factories import UserFactory

    UserFactory(username="zhou", dealership=other_store)
    report = run_import("customers", write_csv([HEADER, GOOD[:4] + ["zhou", GOOD[5]]]), dealership=store)
    assert messages(report) == [(2, "顾问", "Unknown user zhou in this store.")]


def test_an_external_id_twice_in_one_file_is_reported_on_the_second_row(store, consultant, write_csv, run_import):
    rows = [HEADER, GOOD, ["C1", "李四", "13900000002", "来电", "wang", "2025-03-02"]]
    report = run_import("customers", write_csv(rows), dealership=store)
    assert messages(report) == [(3, "外部编号", "C1 is also on row 2.")]
    assert nothing_written()


def test_a_file_with_only_headers_is_reported_as_empty(store, write_csv, run_import):
    report = run_import("customers", write_csv([HEADER]), dealership=store)
    assert messages(report) == [(None, "", "The file has a header row but no data rows.")]


def test_a_zero_byte_upload_is_reported(store, tmp_path, run_import):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert messages(run_import("customers", path, dealership=store)) == [(None, "", "The file is empty (0 bytes).")]


@pytest.mark.parametrize("magic, name", [(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
                                         (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF")])
def test_an_image_or_pdf_renamed_xlsx_is_not_a_spreadsheet(store, tmp_path, run_import, magic, name):
    path = tmp_path / "customers.xlsx"
    path.write_bytes(magic)
    assert messages(run_import("customers", path, dealership=store)) == [
        (None, "", f"This is a {name} file, not a spreadsheet: upload a CSV or .xlsx file.")]
    assert nothing_written()


def test_a_broken_zip_renamed_xlsx_is_not_an_excel_workbook(store, tmp_path, run_import):
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    [(row, column, message)] = messages(run_import("customers", path, dealership=store))
    assert message.startswith("This is not an Excel .xlsx workbook")


def test_the_report_is_in_the_users_language(store, consultant, write_csv, run_import):
    rows = [HEADER, GOOD[:4] + ["nobody", GOOD[5]]]
    with translation.override("zh-hans"):
        report = run_import("customers", write_csv(rows), dealership=store)
    assert messages(report) == [(2, "顾问", "本店没有用户 nobody。")]


def test_the_bad_rows_csv_has_the_rows_as_they_were_and_an_error_column(store, consultant, write_csv, run_import,
                                                                        tmp_path):
    rows = [HEADER, GOOD, ["C2", "李四", "1390000000x", "火星", "wang", "2025-03-02"]]
    report = run_import("customers", write_csv(rows), dealership=store, bad_rows_path=tmp_path / "bad.csv")
    with open(tmp_path / "bad.csv", encoding="utf-8-sig") as f:
        bad = list(csv.reader(f))
    assert bad[0] == HEADER + ["errors"]
    assert bad[1][:6] == rows[2]
    assert "来源" in bad[1][6] and "手机号" in bad[1][6]
    assert len(bad) == 2 and report.bad_rows == 1
    # fixed, the bad-rows file goes back in as it is: the error column is ignored
    fixed = [r[:2] + ["13900000002", "来电"] + r[4:] for r in bad[1:]]
    assert run_import("customers", write_csv([bad[0]] + fixed, name="fixed.csv"), dealership=store).ok


def test_a_phone_matches_an_existing_customer_of_the_store_so_a_reimport_makes_no_duplicate(
        store, consultant, write_csv, run_import):
    existing = CustomerFactory(dealership=store, phone="13912345678", external_id=None)
    path = write_csv([["客户姓名", "手机号", "来源"], ["张三", "+86 139-1234-5678", "展厅"]])
    first = run_import("customers", path, dealership=store)
    second = run_import("customers", path, dealership=store)
    assert (first.created, first.updated, second.created, second.updated) == (0, 1, 0, 1)
    assert list(Customer.objects.values_list("pk", "name")) == [(existing.pk, "张三")]


def test_the_docs_publish_every_accepted_header_of_every_kind():
    from pathlib import Path

    from imports.selectors import headers_markdown

    docs = (Path(__file__).resolve().parents[2] / "docs" / "imports.md").read_text()
    assert headers_markdown() in docs
