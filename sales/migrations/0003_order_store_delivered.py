# The orders' (store, delivered) index with what the KPI engine reads of a delivery, for index-only scans.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0002_order_first_callback_at'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='order',
            name='sales_order_dealers_ed4ba1_idx',
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['dealership', 'delivered_at'], include=('consultant', 'gross_profit', 'oem_rebate', 'first_callback_at'), name='order_store_delivered'),
        ),
    ]
