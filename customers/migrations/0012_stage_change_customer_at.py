# The customers' history index in (customer, at, id) order with kind and stages, for index-only look-ups.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_customer_consultant_stage'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='stagechange',
            name='customers_s_custome_328349_idx',
        ),
        migrations.AddIndex(
            model_name='stagechange',
            index=models.Index(fields=['customer', 'at', 'id'], include=('kind', 'from_stage', 'to_stage'), name='stage_change_customer_at'),
        ),
    ]
