"""The import page: who may use it, upload → Celery task → progress → report, downloads."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from customers.models import Customer
from imports.models import ImportJob
from imports.services import import_job_create

pytestmark = pytest.mark.django_db

GOOD = "外部编号,客户姓名,手机号,来源\nC1,张三,13912345678,展厅\n".encode("utf-8-sig")
BAD = "外部编号,客户姓名,手机号,来源\nC1,张三,13912345678,火星\nC2,李四,13900000002,来电\n".encode("gbk")


def upload(client, content: bytes, *, dry_run: bool, store, name: str = "客户.csv"):
    data = {"kind": "customers", "dealership": store.pk, "file": SimpleUploadedFile(name, content)}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("imports:upload"), data)


@pytest.mark.parametrize("persona, status", [("marketing", 200), ("manager", 200), ("consultant", 403),
                                             ("advisor", 403)])
def test_marketing_and_managers_may_import_consultants_and_advisors_may_not(client, request, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("imports:upload")).status_code == status


def test_the_page_lists_every_kind_with_its_templates(client, manager):
    client.force_login(manager)
    page = client.get(reverse("imports:upload")).content.decode()
    for kind in ("customers", "service_visits", "satisfaction_scores", "market_data"):
        assert reverse("imports:template", args=[kind, "xlsx"]) in page


def test_marketing_does_not_see_the_managers_only_survey_import(client, marketing):
    client.force_login(marketing)
    assert reverse("imports:template", args=["satisfaction_scores", "csv"]) not in \
        client.get(reverse("imports:upload")).content.decode()


def test_a_dry_run_upload_runs_as_a_task_and_shows_what_would_change_then_imports_on_request(
        client, marketing, store, django_capture_on_commit_callbacks):
    client.force_login(marketing)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, GOOD, dry_run=True, store=store)
    job = ImportJob.objects.get()
    assert response.url == reverse("imports:job", args=[job.pk])
    assert job.state == "checked" and not Customer.objects.exists()
    page = client.get(response.url).content.decode()
    assert "import-for-real" in page
    assert client.get(reverse("imports:status", args=[job.pk])).json() == {
        "state": "checked", "progress": 1.0, "finished": True}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:rerun", args=[job.pk]))
    assert ImportJob.objects.filter(state="done").count() == 1
    assert Customer.objects.get().name == "张三"


def test_a_bad_file_shows_the_problems_and_offers_the_bad_rows_csv(client, marketing, store,
                                                                  django_capture_on_commit_callbacks):
    client.force_login(marketing)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, BAD, dry_run=False, store=store)
    job = ImportJob.objects.get()
    assert job.state == "failed" and not Customer.objects.exists()
    page = client.get(response.url).content.decode()
    assert "火星" in page and 'data-testid="bad-rows"' in page
    download = client.get(reverse("imports:bad_rows", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0][-1] in ("errors", "错误") and rows[1][:4] == ["C1", "张三", "13912345678", "火星"]
    assert len(rows) == 2


def test_an_unfinished_job_reports_its_progress_from_the_cache(client, marketing, store):
    from django.core.cache import cache

    from imports.services import progress_key

    client.force_login(marketing)
    job = ImportJob.objects.create(kind="customers", dealership=store, created_by=marketing, file_name="x.csv",
                                   file_path="/nonexistent", state="running")
    cache.set(progress_key(job.pk), 0.42)
    assert client.get(reverse("imports:status", args=[job.pk])).json()["progress"] == 0.42
    assert 'data-status-url' in client.get(reverse("imports:job", args=[job.pk])).content.decode()


def test_another_stores_job_is_a_404(client, other_manager, marketing, store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(kind="customers", upload=SimpleUploadedFile("c.csv", GOOD), user=marketing,
                                dealership=store, dry_run=True, language="en")
    client.force_login(other_manager)
    for name in ("imports:job", "imports:status", "imports:bad_rows"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404


def test_a_zero_byte_upload_is_refused_by_the_form(client, marketing, store):
    client.force_login(marketing)
    response = upload(client, b"", dry_run=True, store=store)
    assert response.status_code == 200 and not ImportJob.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_template_reimports_as_an_empty_file_with_every_header_accepted(client, marketing, tmp_path, fmt, store):
    from imports.services import import_run

    client.force_login(marketing)
    response = client.get(reverse("imports:template", args=["service_visits", fmt]))
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(response.content)
    with translation.override("en"):  # the request above left the page's language active
        report = import_run(kind="service_visits", path=path, dealership=store)
    assert [e["message"] for e in report.errors] == ["The file has a header row but no data rows."]


def test_the_jobs_list_costs_the_same_queries_for_one_job_or_fifteen(client, marketing, store,
                                                                   django_assert_num_queries):
    def page_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("imports:upload")).status_code == 200
        return len(queries)

    client.force_login(marketing)
    ImportJob.objects.create(kind="customers", dealership=store, created_by=marketing, file_name="0.csv",
                             file_path="/x")
    one = page_queries()
    for i in range(14):
        ImportJob.objects.create(kind="customers", dealership=store, created_by=marketing, file_name=f"{i}.csv",
                                 file_path="/x")
    assert page_queries() == one
    with django_assert_num_queries(one):
        client.get(reverse("imports:upload"))
