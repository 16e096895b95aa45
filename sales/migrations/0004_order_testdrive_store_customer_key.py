# An order's and a test drive's customer is a customer of the same store, held by the database on
# PostgreSQL as for the service visits (aftersales 0004): a composite foreign key (customer_id,
# dealership_id) → customers_customer (id, dealership_id). The services always set the event's store from
# its customer; with the key the KPI engine can read the customers of the stores it computes only (from
# their KPI index) when it joins the events to them, and be sure that no event is left out. Beside the
# single-column keys, which stay (SQLite keeps only those; the services hold the rule there).

from django.db import migrations

KEYS = {"sales_order": "order_customer_same_store", "sales_testdrive": "test_drive_customer_same_store"}


def add_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, key in KEYS.items():
            schema_editor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {key} FOREIGN KEY (customer_id, dealership_id) "
                "REFERENCES customers_customer (id, dealership_id) DEFERRABLE INITIALLY DEFERRED")


def drop_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, key in KEYS.items():
            schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {key}")


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0003_order_store_delivered'),
        ('customers', '0008_customer_id_dealership_unique'),
    ]

    operations = [migrations.RunPython(add_keys, drop_keys)]
