"""Room on each page of the kept run counts (PostgreSQL): a refresh updates a store's counts in place
(`n`, no index on it), so with free space on their page the new versions stay there (HOT) and a store's
runs, written together by a build (kpis.kept), stay together for the store-month's read of them."""
from django.db import migrations

TABLES = ["kpi_visit_runs", "kpi_stage_runs"]


def _fillfactor(value):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in TABLES:
                schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {value})")
    return run


class Migration(migrations.Migration):
    dependencies = [("kpis", "0003_kept_runs")]
    operations = [migrations.RunPython(_fillfactor(80), _fillfactor(100))]
