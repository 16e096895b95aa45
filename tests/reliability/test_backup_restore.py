"""bin/backup-db and bin/restore-db on the demo data: back up, lose the customers, restore, all back."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.reliability import servers

pytestmark = pytest.mark.slow

KEY_TABLES = ["dealership_dealership", "dealership_user", "campaigns_campaign", "customers_customer",
              "customers_stagechange", "sales_visit", "sales_testdrive", "sales_order",
              "aftersales_servicevisit", "aftersales_callback", "kpis_kpivalue"]


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every key table: the same data gives the same text, row by row."""
    return {table: servers.query(url, f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))"
                                      f" FROM {table} t")[0] for table in KEY_TABLES}


def run(script: str, *args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([str(servers.ROOT / "bin" / script), *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_restored_backup_gives_back_every_deleted_customer_and_record(ops_database, tmp_path):
    url = ops_database("dealership_ops_backup")
    before = fingerprint(url)
    assert before["customers_customer"][0] > 0, "the demo data should have customers"
    dump = tmp_path / "nightly.dump"

    backup = run("backup-db", str(dump), url=url)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0 and not (tmp_path / "nightly.dump.partial").exists()

    servers.query(url, "TRUNCATE customers_customer CASCADE")  # the accident: every customer and record gone
    assert fingerprint(url)["customers_customer"][0] == 0

    restore = run("restore-db", str(dump), "--yes", url=url)
    assert restore.returncode == 0, restore.stderr
    assert fingerprint(url) == before
    # New customers continue the old numbering instead of colliding with restored ids.
    last_id = servers.query(url, "SELECT coalesce(max(id), 0) FROM customers_customer")[0][0]
    next_id = servers.query(url, "SELECT nextval(pg_get_serial_sequence('customers_customer', 'id'))")[0][0]
    assert next_id > last_id


def test_a_restore_without_confirmation_changes_nothing(ops_database, tmp_path):
    url = ops_database("dealership_ops_backup")
    assert run("backup-db", str(tmp_path / "b.dump"), url=url).returncode == 0
    servers.query(url, "DELETE FROM customers_stagechange")
    damaged = fingerprint(url)

    refused = run("restore-db", str(tmp_path / "b.dump"), url=url)

    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert fingerprint(url) == damaged


def test_a_broken_dump_is_refused_before_the_database_is_touched(ops_database, tmp_path):
    url = ops_database("dealership_ops_backup")
    before = fingerprint(url)
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP this is not a dump")

    refused = run("restore-db", str(broken), "--yes", url=url)

    assert refused.returncode != 0
    assert fingerprint(url) == before
