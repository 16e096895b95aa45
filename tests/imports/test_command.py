"""python manage.py import_records KIND FILE [--dealership CODE] [--dry-run]"""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_the_command_imports_a_file_and_prints_the_report(store, consultant, write_csv, capsys):
    path = write_csv([["外部编号", "客户姓名", "手机号", "顾问"], ["C1", "张三", "139 1234 5678", "wang"]])
    call_command("import_records", "customers", str(path), "--dealership", store.code, "--language", "en")
    assert "Created 1, updated 0." in capsys.readouterr().out
    assert Customer.objects.get().consultant == consultant


def test_the_command_dry_run_writes_nothing(store, write_csv, capsys):
    path = write_csv([["外部编号", "客户姓名"], ["C1", "张三"]])
    call_command("import_records", "customers", str(path), "--dealership", store.code, "--dry-run", "--language", "en")
    assert "Would create 1 and update 0." in capsys.readouterr().out
    assert not Customer.objects.exists()


def test_the_command_prints_the_problems_and_fails(store, write_csv, capsys):
    path = write_csv([["外部编号", "客户姓名", "来源"], ["C1", "张三", "火星"]])
    with pytest.raises(CommandError):
        call_command("import_records", "customers", str(path), "--dealership", store.code)
    out = capsys.readouterr().out
    assert "未知的值 火星" in out and "未写入任何数据" in out  # Chinese by default, as the stores read it
