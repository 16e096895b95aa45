"""Importing a DMS export: check every row first, then write all of it in one transaction, or nothing.

Two ways to write, with the same result (tests/imports/test_paths.py proves it for service visits):
- row by row (`rows`): each row goes through the owning app's service (customer_create, visit_create,
  order_create, service_visit_create, ...), so an imported event moves the customer exactly as a live
  one does. Rows are applied in their own time order. Used for every kind and every database.
- set-based (`copy`, PostgreSQL, service visits): imports.copy_path streams the file into a staging
  table with COPY and does the checks, the writes and the lifecycle moves in a handful of SQL
  statements. Chosen automatically for big files.
"""
from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealership.models import Dealership, Role, User
from dealership.selectors import dealerships_for_user
from imports.kinds import KINDS, Column, Kind, normalize_header
from imports.models import ImportJob
from imports.readers import FileError, Table, open_table
from imports.row_path import import_rows

MAX_REPORTED_ERRORS = 200   # the report lists this many; the bad-rows CSV has them all
COPY_MIN_BYTES = 2_000_000  # above this a service-visit file on PostgreSQL takes the COPY path
ERROR_HEADERS = {normalize_header(h) for h in ("errors", "错误", "error", "错误信息")}

Progress = Callable[[float], None]


class ImportRejected(Exception):
    """Raised inside the write transaction to undo it when a service refuses a row."""


@dataclass
class Report:
    kind: str
    file_name: str = ""
    method: str = "rows"
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    bad_rows: int = 0
    warnings: list[str] = field(default_factory=list)
    sample: list[dict] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, row: int | None, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, "column": column, "message": str(message)})

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "file_name", "method", "dry_run", "rows", "created",
                                               "updated", "errors", "error_count", "bad_rows", "warnings",
                                               "sample", "headers", "seconds")} | {"ok": self.ok}

    def as_text(self) -> str:
        """The report as the shell prints it."""
        lines = [_("%(kind)s import of %(file)s: %(rows)d rows, method %(method)s%(dry)s.")
                 % {"kind": self.kind, "file": self.file_name, "rows": self.rows, "method": self.method,
                    "dry": _(" (dry run)") if self.dry_run else ""}]
        if self.ok:
            verb = _("Would create %(c)d and update %(u)d.") if self.dry_run else _("Created %(c)d, updated %(u)d.")
            lines.append(verb % {"c": self.created, "u": self.updated})
            for item in self.sample:
                lines.append(f"  {_('row')} {item['row']}: {item['action']} {item['values']}")
        else:
            lines.append(_("Rejected: %(n)d problems in %(rows)d rows; nothing was written.")
                         % {"n": self.error_count, "rows": self.bad_rows})
            for e in self.errors:
                where = _("row %(row)s") % {"row": e["row"]} if e["row"] else _("file")
                lines.append(f"  {where}, {e['column'] or '-'}: {e['message']}")
            if self.error_count > len(self.errors):
                lines.append(_("  ... and %(n)d more (see the bad-rows CSV).")
                             % {"n": self.error_count - len(self.errors)})
        lines.extend(f"  ! {w}" for w in self.warnings)
        lines.append(_("%(s).1f s") % {"s": self.seconds})
        return "\n".join(lines)


# --- entry points ------------------------------------------------------------------------------

def import_run(
    *,
    kind: str,
    path: str | Path,
    dealership: Dealership | None = None,
    user: User | None = None,
    dry_run: bool = False,
    method: str = "auto",
    file_name: str = "",
    bad_rows_path: str | Path | None = None,
    progress: Progress = lambda fraction: None,
) -> Report:
    """Check the file and, if every row is good and this is no dry run, write it in one transaction.

    `user` None is the shell: every store may be named. `method` is rows, copy or auto.
    """
    started = time.monotonic()
    spec = KINDS[kind]
    report = Report(kind=kind, file_name=file_name or Path(path).name, dry_run=dry_run)
    stores = _allowed_stores(user, spec)
    if user is not None and not import_allowed(user, kind):
        report.error(None, "", _("You may not import %(kind)s.") % {"kind": spec.label})
        return report
    try:
        table = open_table(path)
        columns = _map_headers(spec, table.headers, report, has_default_store=dealership is not None)
        report.headers = table.headers
        if not report.ok:
            _drain(table)
            return report
        if method == "auto":
            method = "copy" if (kind == "service_visits" and connection.vendor == "postgresql"
                                and Path(path).stat().st_size >= COPY_MIN_BYTES) else "rows"
        report.method = method
        if method == "copy":
            from imports.copy_path import service_visits_copy  # PostgreSQL only

            # It writes its own bad-rows CSV: its problems live in a temporary table.
            service_visits_copy(table=table, columns=columns, report=report, default_store=dealership,
                                stores=stores, user=user, dry_run=dry_run, progress=progress,
                                source=path, bad_rows_path=bad_rows_path)
            bad_rows = None
        else:
            bad_rows = import_rows(table=table, columns=columns, spec=spec, report=report,
                                    default_store=dealership, stores=stores, user=user, dry_run=dry_run,
                                    progress=progress)
    except FileError as exc:
        report.error(None, "", str(exc))
        bad_rows = None
    if not report.ok and bad_rows is not None and bad_rows_path:
        report.bad_rows = _write_bad_rows(path, bad_rows_path, bad_rows)
    elif not report.ok and bad_rows is not None:
        report.bad_rows = sum(1 for _ in bad_rows)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def import_allowed(user: User, kind: str) -> bool:
    """Marketing and managers import; consultants and advisors do not (see docs/imports.md: a consultant
    sees only his own customers, and matching on phone would let him touch, or learn of, a colleague's).
    Satisfaction tables are the OEM's region-wide survey: managers only, as in the API."""
    if user.is_superuser:
        return True
    if KINDS[kind].needs_manager:
        return user.role in (Role.MANAGER, Role.GROUP_MANAGER)
    return user.role in (Role.MARKETING, Role.MANAGER, Role.GROUP_MANAGER)


@transaction.atomic
def import_job_create(
    *, kind: str, upload: UploadedFile, user: User, dealership: Dealership | None, dry_run: bool, language: str
) -> ImportJob:
    """Keep the upload on disk and queue its import (after commit: the task must find the job)."""
    from imports.tasks import import_job_run_task

    job = ImportJob(kind=kind, dealership=dealership, created_by=user, file_name=upload.name[:255],
                    dry_run=dry_run, language=language)
    folder = Path(settings.MEDIA_ROOT) / "imports" / str(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "upload"
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    job.file_path = str(target)
    job.save()
    transaction.on_commit(lambda: import_job_run_task.delay(str(job.id)))
    return job


@transaction.atomic
def import_job_rerun(*, job: ImportJob, user: User, dry_run: bool) -> ImportJob:
    """Import a checked file for real (or check it again): a new job on the same upload."""
    from imports.tasks import import_job_run_task

    new = ImportJob.objects.create(kind=job.kind, dealership=job.dealership, created_by=user,
                                   file_name=job.file_name, file_path=job.file_path, dry_run=dry_run,
                                   language=job.language)
    transaction.on_commit(lambda: import_job_run_task.delay(str(new.id)))
    return new


def import_job_run(*, job_id: str) -> ImportJob:
    """Run a queued job once; running it again after it finished does nothing (tasks may be redelivered)."""
    with transaction.atomic():
        job = (ImportJob.objects.select_for_update(of=("self",))  # its store and author may be null: outer joins
               .select_related("dealership", "created_by").get(pk=job_id))
        if job.state != ImportJob.State.PENDING:
            return job
        job.state = ImportJob.State.RUNNING
        job.save(update_fields=["state"])

    def progress(fraction: float) -> None:
        # The import runs in one long transaction: progress goes through the cache, which every
        # process sees at once, not through the job row, which others would see only at commit.
        cache.set(progress_key(job.pk), round(fraction, 3), timeout=3600)

    bad_rows_path = Path(job.file_path).with_name(f"bad-rows-{job.pk}.csv")
    try:
        with translation.override(job.language):
            report = import_run(kind=job.kind, path=job.file_path, dealership=job.dealership, user=job.created_by,
                                dry_run=job.dry_run, file_name=job.file_name, bad_rows_path=bad_rows_path,
                                progress=progress)
    except Exception as exc:  # an unexpected failure still ends the job, with the error shown
        job.state = ImportJob.State.FAILED
        job.report = {"ok": False, "errors": [{"row": None, "column": "", "message": repr(exc)}], "error_count": 1}
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "report", "finished_at"])
        raise
    job.report = report.as_dict()
    job.state = (ImportJob.State.FAILED if not report.ok
                 else ImportJob.State.CHECKED if job.dry_run else ImportJob.State.DONE)
    job.progress = 1.0
    job.finished_at = timezone.now()
    job.save(update_fields=["report", "state", "progress", "finished_at"])
    cache.set(progress_key(job.pk), 1.0, timeout=3600)
    return job


def progress_key(job_id: Any) -> str:
    return f"imports:progress:{job_id}"


# --- headers -----------------------------------------------------------------------------------

def _map_headers(spec: Kind, headers: list[str], report: Report, *, has_default_store: bool) -> list[Column | None]:
    columns: list[Column | None] = []
    seen: dict[str, str] = {}
    for header in headers:
        key = normalize_header(header)
        if not key or key in ERROR_HEADERS:  # blank columns and our own error column are ignored
            columns.append(None)
            continue
        column = spec.column_map.get(key)
        if column is None:
            report.error(1, header, _("Unknown column %(header)s. Accepted: %(accepted)s.")
                         % {"header": header, "accepted": ", ".join(f"{c.field} ({c.label})" for c in spec.columns)})
            columns.append(None)
            continue
        if column.field in seen:
            report.error(1, header, _("Column %(header)s repeats %(other)s.")
                         % {"header": header, "other": seen[column.field]})
        seen[column.field] = header
        columns.append(column)
    present = {c.field for c in columns if c}
    for column in spec.columns:
        if column.required and column.field not in present:
            report.error(1, column.field, _("Missing required column %(field)s (%(label)s).")
                         % {"field": column.field, "label": column.label})
    for group in spec.one_of:
        if not present & set(group):
            report.error(1, " / ".join(group), _("The file needs one of these columns: %(cols)s.")
                         % {"cols": ", ".join(f"{f} ({spec.column(f).label})" for f in group)})
    if spec.store_column and "dealership" not in present and not has_default_store:
        report.error(1, "dealership", _("Say which store: add a dealership (门店代码) column or choose the store "
                                        "for the whole file."))
    return columns


def _drain(table: Table) -> None:
    table.rows.close()  # type: ignore[attr-defined]  # a generator: closing it closes the file


def _allowed_stores(user: User | None, spec: Kind) -> dict[str, Dealership]:
    qs = Dealership.objects.all() if user is None else dealerships_for_user(user)
    return {d.code: d for d in qs}


# --- the bad-rows CSV --------------------------------------------------------------------------

def _write_bad_rows(source: str | Path, target: str | Path, problems: Iterable[tuple[int, list[str]]]) -> int:
    """The file's bad rows as they were, plus an error column; fixed, it can be uploaded again as is.

    Streams: the source is read a second time and merged with the problems, both in row order.
    """
    problems = iter(problems)
    pending = next(problems, None)
    count = 0
    try:
        table = open_table(source)
    except FileError:
        return 0
    with open(target, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*table.headers, _("errors")])
        for number, cells in table.rows:
            while pending is not None and pending[0] < number:
                pending = next(problems, None)
            if pending is None:
                continue
            if pending[0] == number:
                writer.writerow([*["" if c is None else c for c in cells],
                                 *[""] * (len(table.headers) - len(cells)), "; ".join(sorted(pending[1]))])
                count += 1
        for _rest in table.rows:
            pass
    return count
