# The customers by (store, latest stage change): a store-month's look-ups of the customers changed since
# the month's start read those entries only (kpis.engine: stage at E, lost deals, funnel cohorts).
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0009_customer_last_services'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['dealership', 'stage_changed_at'], include=('id', 'consultant', 'entered_market_at', 'entered_potential_at', 'entered_target_at', 'entered_real_at', 'entered_lifetime_at', 'entered_loyal_at'), name='customer_store_changed'),
        ),
    ]
