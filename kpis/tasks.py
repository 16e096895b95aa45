"""Celery tasks of the KPI engine. Each takes ids, calls one service and is safe to run twice."""
from __future__ import annotations

from celery import shared_task

from kpis import services


@shared_task(name="kpis.tasks.recompute_kpis", acks_late=True)
def recompute_kpis(job_id: int) -> None:
    """A recompute requested through recompute_request (the job row carries the scope and progress)."""
    services.recompute_job_run(job_id=job_id)


@shared_task(name="kpis.tasks.recompute_stale_months", acks_late=True)
def recompute_stale_months() -> int:
    """The debounced incremental recompute dispatched by dealership.services.kpi_months_mark_stale."""
    return services.stale_months_recompute()


@shared_task(name="kpis.tasks.recompute_all", acks_late=True)
def recompute_all() -> int:
    """The nightly full recompute: every store, every month with data (cohort rates keep maturing)."""
    return services.recompute()
