# Drops the single-column index of the history rows' customer: (customer, at) leads with the same column
# and serves the same lookups (a customer's history, the cascade when a customer is deleted), and an
# import pays every index on every history row it writes.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0006_customer_stage_changed_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='stagechange',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='stage_changes', to='customers.customer'),
        ),
    ]
