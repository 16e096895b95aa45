# Each delivery and service visit keeps its first reached callback (kpis.engine's 3-day callback rates);
# the backfill is added by hand.
from django.db import migrations, models

# The same as aftersales.services keeps them: the earliest completed reached callback of each subject, in
# one grouped pass over the callbacks (UPDATE … FROM: PostgreSQL, and SQLite from 3.33).
BACKFILL = [
    f"UPDATE {table} SET first_callback_at = f.first_at FROM ("
    f"SELECT {subject} AS subject, MIN(completed_at) AS first_at FROM aftersales_callback"
    f" WHERE reached AND {subject} IS NOT NULL GROUP BY {subject}) f WHERE f.subject = {table}.id"
    for table, subject in [("sales_order", "order_id"), ("aftersales_servicevisit", "service_visit_id")]
]


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0004_servicevisit_store_customer_key'),
        ('sales', '0002_order_first_callback_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='servicevisit',
            name='first_callback_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='first reached callback at'),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
