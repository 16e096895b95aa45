"""An upload imported by a real Celery worker on the real Redis broker (the page's path in production)."""
from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer
from imports.models import ImportJob
from imports.services import import_job_create
from tests.kpis.test_celery_worker import worker_queue  # noqa: F401  (the same worker fixture)

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_an_upload_is_imported_by_a_real_worker(worker_queue, marketing, store):  # noqa: F811
    upload = SimpleUploadedFile("客户.csv", "外部编号,客户姓名,手机号\nC1,张三,13912345678\n".encode("gbk"))
    job = import_job_create(kind="customers", upload=upload, user=marketing, dealership=store, dry_run=False,
                            language="zh-hans")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        assert worker_queue.poll() is None, worker_queue.stdout.read().decode()[-2000:]
        time.sleep(0.5)
    assert job.state == ImportJob.State.DONE, job.report or "the worker did not finish in 90 s"
    assert job.report["created"] == 1
    assert Customer.objects.get().phone == "13912345678"
