"""In a real Chromium: marketing uploads a spreadsheet, reads the dry run, imports it; the progress bar
follows a running job and the page turns into the report when it ends."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from customers.models import Customer
from dealership.models import Role
from imports.models import ImportJob
from imports.services import progress_key
from tests.browser.conftest import PASSWORD, watched  # noqa: F401  (a fixture)
from tests.factories import DealershipFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def marketing(transactional_db):
    store = DealershipFactory(code="HZ001", name="杭州丰田一店")
    UserFactory(username="wang", role=Role.CONSULTANT, dealership=store)
    return UserFactory(username="chen", name="陈静", role=Role.MARKETING, dealership=store, password=PASSWORD)


def test_marketing_uploads_a_file_reads_the_dry_run_and_imports_it(watched, marketing, tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes("外部编号,客户姓名,手机号,来源,顾问\nC1,张三,139 1234 5678,展厅,wang\n".encode("gbk"))
    watched.login("chen")
    watched.page.goto(watched.origin + "/imports/")
    watched.page.select_option("select[name=kind]", "customers")
    watched.page.set_input_files("input[name=file]", str(path))
    watched.page.click("[data-testid=import-form] button[type=submit]")
    watched.page.wait_for_selector("[data-testid=import-state]")
    assert "将新建 1 条" in watched.page.inner_text("[data-testid=import-state]")
    assert not Customer.objects.exists()
    watched.page.click("[data-testid=import-for-real]")
    watched.page.wait_for_selector("[data-testid=import-state]")
    assert "已导入 1 行" in watched.page.inner_text("[data-testid=import-state]")
    assert Customer.objects.get().phone == "13912345678"


def test_the_progress_bar_follows_a_running_job_and_the_report_replaces_it(watched, marketing):
    job = ImportJob.objects.create(kind="service_visits", dealership=marketing.dealership, created_by=marketing,
                                   file_name="工单.csv", file_path="/nonexistent", state="running")
    cache.set(progress_key(job.pk), 0.42)
    watched.login("chen")
    watched.page.goto(watched.origin + f"/imports/{job.pk}/")
    watched.page.wait_for_function("() => document.querySelector('.progress-bar').textContent.trim() === '42%'")
    ImportJob.objects.filter(pk=job.pk).update(state="done", progress=1.0, report={
        "ok": True, "rows": 3, "created": 3, "updated": 0, "errors": [], "error_count": 0, "sample": [],
        "warnings": [], "seconds": 0.1, "method": "copy"})
    watched.page.wait_for_selector("[data-testid=import-state]")
    assert "已导入 3 行" in watched.page.inner_text("[data-testid=import-state]")
