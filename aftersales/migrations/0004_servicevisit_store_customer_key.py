# The service visits' store and customer are checked by one composite foreign key on PostgreSQL:
# (customer_id, dealership_id) → customers_customer (id, dealership_id). A visit can then not belong to
# another store's customer, and a bulk import pays one check per visit instead of two (the customer's own
# key already holds his store). Django has no composite foreign key: the two ForeignKey fields lose their
# single-column constraints (db_constraint=False; on_delete=PROTECT still refuses deletes in Django) and
# the constraint is added in SQL, DEFERRABLE INITIALLY DEFERRED like Django's. SQLite keeps no database
# key for these two columns (it cannot add one to an existing table); Django's PROTECT holds there.
# Also: the (store, opened_at) index carries the customer as an INCLUDE column, so that the KPI engine's
# store-month pass reads the visits' customers from the index alone (PostgreSQL; SQLite ignores INCLUDE).

import django.db.models.deletion
from django.db import migrations, models

KEY = "service_visit_customer_same_store"


def add_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE aftersales_servicevisit ADD CONSTRAINT {KEY} FOREIGN KEY (customer_id, dealership_id) "
            "REFERENCES customers_customer (id, dealership_id) DEFERRABLE INITIALLY DEFERRED")


def drop_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE aftersales_servicevisit DROP CONSTRAINT {KEY}")


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0003_servicevisit_no_single_fk_indexes'),
        ('customers', '0008_customer_id_dealership_unique'),
        ('dealership', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='servicevisit',
            name='customer',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='service_visits', to='customers.customer', verbose_name='customer'),
        ),
        migrations.AlterField(
            model_name='servicevisit',
            name='dealership',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='service_visits', to='dealership.dealership', verbose_name='dealership'),
        ),
        migrations.RunPython(add_key, drop_key),
        migrations.RemoveIndex(
            model_name='servicevisit',
            name='aftersales__dealers_ed567a_idx',
        ),
        migrations.AddIndex(
            model_name='servicevisit',
            index=models.Index(fields=['dealership', 'opened_at'], include=('customer',), name='service_visit_store_opened'),
        ),
    ]
