"""Helpers for the import tests: write a file the way Excel or a DMS would, and import it."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from imports.services import Report, import_run


@pytest.fixture
def write_csv(tmp_path):
    def write(rows: list[list], *, name: str = "file.csv", encoding: str = "utf-8-sig") -> Path:
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        path = tmp_path / name
        path.write_bytes(out.getvalue().encode(encoding))
        return path
    return write


@pytest.fixture
def write_xlsx(tmp_path):
    def write(rows: list[list], *, name: str = "file.xlsx") -> Path:
        import openpyxl

        workbook = openpyxl.Workbook()
        for row in rows:
            workbook.active.append(row)
        path = tmp_path / name
        workbook.save(path)
        return path
    return write


@pytest.fixture
def run_import(tmp_path):
    def run(kind: str, path: Path, **kwargs) -> Report:
        kwargs.setdefault("bad_rows_path", tmp_path / "bad-rows.csv")
        return import_run(kind=kind, path=path, **kwargs)
    return run


def messages(report: Report) -> list[tuple]:
    return [(e["row"], e["column"], e["message"]) for e in report.errors]


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English; one test checks the Chinese ones."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    """Uploads and bad-rows files go to the test's own folder, not to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
