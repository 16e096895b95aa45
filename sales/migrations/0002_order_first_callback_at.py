# Each order keeps its first reached callback after delivery; aftersales 0005 fills it.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='first_callback_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='first reached callback at'),
        ),
    ]
