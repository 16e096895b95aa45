# Each service visit keeps the instants of its customer's neighbouring visits (aftersales.models.NEIGHBOURS),
# read by the KPI engine's customer base; the backfill is added by hand.
from django.db import migrations, models

# As aftersales.services.service_neighbours_refresh computes them, for every visit: one window over each
# customer's visits (UPDATE … FROM: PostgreSQL, and SQLite from 3.33). Frozen here, not imported.
BACKFILL = """
    UPDATE aftersales_servicevisit SET prior_opened_at = w.p1, prior_3_opened_at = w.p3, prior_4_opened_at = w.p4,
                                       next_opened_at = w.n1
    FROM (SELECT id, LAG(opened_at, 1) OVER x AS p1, LAG(opened_at, 3) OVER x AS p3, LAG(opened_at, 4) OVER x AS p4,
                 LEAD(opened_at, 1) OVER x AS n1
          FROM aftersales_servicevisit WINDOW x AS (PARTITION BY customer_id ORDER BY opened_at, id)) w
    WHERE aftersales_servicevisit.id = w.id
      AND (w.p1 IS NOT NULL OR w.n1 IS NOT NULL)
"""


def field(name):
    return models.DateTimeField(blank=True, editable=False, null=True, verbose_name=name)


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0005_servicevisit_first_callback_at'),
    ]

    operations = [
        migrations.AddField(model_name='servicevisit', name='prior_opened_at', field=field('previous visit opened at')),
        migrations.AddField(model_name='servicevisit', name='prior_3_opened_at',
                            field=field('third visit before opened at')),
        migrations.AddField(model_name='servicevisit', name='prior_4_opened_at',
                            field=field('fourth visit before opened at')),
        migrations.AddField(model_name='servicevisit', name='next_opened_at', field=field('next visit opened at')),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
