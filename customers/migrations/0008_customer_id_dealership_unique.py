# (id, dealership) is unique since id is: the constraint exists to be the target of the service visits'
# composite foreign key (customer, store), aftersales 0004.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0007_stagechange_no_customer_index'),
        ('dealership', '0001_initial'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('id', 'dealership'), name='customer_id_dealership_unique'),
        ),
    ]
