# The consultants' index of customers by stage includes what the store-month's stage count reads.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0010_customer_store_changed'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='customer',
            name='customers_c_dealers_21b869_idx',
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['dealership', 'consultant', 'stage'], include=('is_lost', 'entered_market_at', 'stage_changed_at'), name='customer_consultant_stage'),
        ),
    ]
