"""Seed the default KPI targets of the seed articles (traffic achievement ≥ 0.90, churn ≤ 0.15)."""
from django.db import migrations

# Copied from kpis.services.DEFAULT_TARGETS: a migration must not import code that may change later.
DEFAULTS = [
    ("traffic_achievement", 0.90, 0.80, "higher"),
    ("churn_rate", 0.15, 0.20, "lower"),
]


def seed(apps, schema_editor):
    KpiTarget = apps.get_model("kpis", "KpiTarget")
    for code, target, line, direction in DEFAULTS:
        KpiTarget.objects.get_or_create(dealership=None, code=code,
                                        defaults={"target": target, "control_line": line, "direction": direction})


class Migration(migrations.Migration):
    dependencies = [("kpis", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
