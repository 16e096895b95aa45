"""The import runs in the background: the page polls its progress (imports.views.job_status)."""
from __future__ import annotations

from celery import shared_task

from imports.services import import_job_run


@shared_task(name="imports.tasks.import_job_run_task")
def import_job_run_task(job_id: str) -> str:
    # Safe to run twice: a job that is no longer pending is left alone.
    return import_job_run(job_id=job_id).state
