"""The runs kept between recomputes (PostgreSQL only; see kpis/visit_runs.py and kpis/stage_runs.py).

The tables the engine alone reads and writes, and the triggers that tell it which customers' service
visits, first delivery, stage history, stage, loss, consultant or store changed. The triggers sit on the
tables, not in the services, because every writer must be seen: the services, the import's COPY path,
the demo and benchmark writers, the admin and any script. A store has no runs until the first full
recompute builds them.
"""
from django.db import migrations

VISITS = """
CREATE TABLE kpi_visit_months (
    dealership_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    months integer[] NOT NULL,
    delivered integer,
    PRIMARY KEY (customer_id, dealership_id)
);
CREATE INDEX kpi_visit_months_store ON kpi_visit_months (dealership_id);
CREATE TABLE kpi_visit_runs (
    dealership_id bigint NOT NULL,
    measure varchar(8) NOT NULL,
    s integer NOT NULL,
    e integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (dealership_id, measure, s, e)
);

CREATE FUNCTION kpi_service_visits_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO kpi_visit_changed SELECT DISTINCT dealership_id, customer_id FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO kpi_visit_changed SELECT DISTINCT dealership_id, customer_id FROM old_rows;
    ELSE  -- a closing, a revenue or a callback changes no run: only the instant, customer or store
        INSERT INTO kpi_visit_changed
        SELECT DISTINCT x.dealership_id, x.customer_id
        FROM old_rows o JOIN new_rows n ON n.id = o.id,
             LATERAL (VALUES (o.dealership_id, o.customer_id), (n.dealership_id, n.customer_id))
                 AS x (dealership_id, customer_id)
        WHERE (o.opened_at, o.customer_id, o.dealership_id) IS DISTINCT FROM (n.opened_at, n.customer_id, n.dealership_id);
    END IF;
    RETURN NULL;
END $$;

-- The first delivery clips the self-sold runs: a customer whose first delivery moves has his kept runs redone.
CREATE FUNCTION kpi_customers_delivery_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_visit_changed
    SELECT k.dealership_id, k.customer_id
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN kpi_visit_months k ON k.customer_id = n.id
    WHERE o.first_delivered_at IS DISTINCT FROM n.first_delivered_at;
    RETURN NULL;
END $$;
"""

STAGES = """
CREATE TABLE kpi_stage_pieces (
    dealership_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    person bigint NOT NULL,
    stage varchar(16) NOT NULL,
    m integer NOT NULL,
    nm integer NOT NULL
);
CREATE INDEX kpi_stage_pieces_store_customer ON kpi_stage_pieces (dealership_id, customer_id);
CREATE INDEX kpi_stage_pieces_customer ON kpi_stage_pieces (customer_id);
CREATE TABLE kpi_stage_runs (
    dealership_id bigint NOT NULL,
    person bigint NOT NULL,
    stage varchar(16) NOT NULL,
    m integer NOT NULL,
    nm integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (dealership_id, person, stage, m, nm)
);

CREATE FUNCTION kpi_stage_history_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO kpi_stage_changed
        SELECT DISTINCT c.dealership_id, c.id FROM new_rows s JOIN customers_customer c ON c.id = s.customer_id;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO kpi_stage_changed
        SELECT DISTINCT c.dealership_id, c.id FROM old_rows s JOIN customers_customer c ON c.id = s.customer_id;
        -- a customer deleted with his history: his kept pieces are where his store is still known
        INSERT INTO kpi_stage_changed
        SELECT DISTINCT p.dealership_id, p.customer_id FROM old_rows s JOIN kpi_stage_pieces p ON p.customer_id = s.customer_id;
    ELSE
        INSERT INTO kpi_stage_changed
        SELECT DISTINCT c.dealership_id, c.id
        FROM old_rows o JOIN new_rows n ON n.id = o.id,
             LATERAL (VALUES (o.customer_id), (n.customer_id)) AS x (customer_id)
             JOIN customers_customer c ON c.id = x.customer_id
        WHERE (o.at, o.kind, o.to_stage, o.customer_id) IS DISTINCT FROM (n.at, n.kind, n.to_stage, n.customer_id);
    END IF;
    RETURN NULL;
END $$;

-- The state after a customer's last change is his current one, counted under his current consultant,
-- in his current store: a change of any of them changes his runs (in the old store and the new one).
CREATE FUNCTION kpi_customers_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO kpi_stage_changed SELECT DISTINCT dealership_id, id FROM old_rows;
    ELSE
        INSERT INTO kpi_stage_changed
        SELECT DISTINCT x.dealership_id, n.id
        FROM old_rows o JOIN new_rows n ON n.id = o.id,
             LATERAL (VALUES (o.dealership_id), (n.dealership_id)) AS x (dealership_id)
        WHERE (o.stage, o.is_lost, o.consultant_id, o.dealership_id)
              IS DISTINCT FROM (n.stage, n.is_lost, n.consultant_id, n.dealership_id);
    END IF;
    RETURN NULL;
END $$;
"""

# Every trigger (name, table, event, function): statement-level, with the event's transition tables, and
# fired whatever the session's replication role (ENABLE ALWAYS): the import's COPY path inserts with
# `session_replication_role = replica` to skip the per-row foreign-key triggers, and would skip these too.
TRIGGERS = [
    ("kpi_service_visits_inserted", "aftersales_servicevisit", "INSERT", "kpi_service_visits_changed"),
    ("kpi_service_visits_updated", "aftersales_servicevisit", "UPDATE", "kpi_service_visits_changed"),
    ("kpi_service_visits_deleted", "aftersales_servicevisit", "DELETE", "kpi_service_visits_changed"),
    ("kpi_customers_delivery_changed", "customers_customer", "UPDATE", "kpi_customers_delivery_changed"),
    ("kpi_stage_history_inserted", "customers_stagechange", "INSERT", "kpi_stage_history_changed"),
    ("kpi_stage_history_updated", "customers_stagechange", "UPDATE", "kpi_stage_history_changed"),
    ("kpi_stage_history_deleted", "customers_stagechange", "DELETE", "kpi_stage_history_changed"),
    ("kpi_customers_state_updated", "customers_customer", "UPDATE", "kpi_customers_state_changed"),
    ("kpi_customers_state_deleted", "customers_customer", "DELETE", "kpi_customers_state_changed"),
]
TRANSITION = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
              "DELETE": "OLD TABLE AS old_rows"}

CREATE_TRIGGERS = "".join(
    f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {TRANSITION[event]}"
    f" FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n"
    f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name};\n" for name, table, event, function in TRIGGERS)

DROP = (
    "".join(f"DROP TRIGGER IF EXISTS {name} ON {table};\n" for name, table, *_ in TRIGGERS)
    + "".join(f"DROP FUNCTION IF EXISTS {function}();\n" for function in dict.fromkeys(f for *_, f in TRIGGERS))
    + "DROP TABLE IF EXISTS kpi_stage_pieces, kpi_stage_runs, kpi_stage_changed, kpi_stage_built;\n"
    + "DROP TABLE IF EXISTS kpi_visit_months, kpi_visit_runs, kpi_visit_changed, kpi_visit_built;\n")


def _bookkeeping(prefix: str) -> str:
    """The customers changed since the last refresh, and the stores built (in which time zone).

    A change is a row of its own, not a key: a refresh takes (deletes) only the rows committed when it
    starts, so a writer still in flight leaves its row for the next refresh, even for a customer the
    refresh is taking; one key per customer would have let that writer's row coincide with the taken one.
    """
    return f"""
CREATE TABLE {prefix}_changed (dealership_id bigint NOT NULL, customer_id bigint NOT NULL);
CREATE INDEX {prefix}_changed_store ON {prefix}_changed (dealership_id);
CREATE TABLE {prefix}_built (dealership_id bigint PRIMARY KEY, timezone varchar(64) NOT NULL);
"""


def _on_postgresql(*sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statements in sql:
                schema_editor.execute(statements)
    return run


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0002_default_targets"),
        ("aftersales", "0005_servicevisit_first_callback_at"),
        ("customers", "0012_stage_change_customer_at"),
    ]
    operations = [migrations.RunPython(
        _on_postgresql(_bookkeeping("kpi_visit"), _bookkeeping("kpi_stage"), VISITS, STAGES, CREATE_TRIGGERS),
        _on_postgresql(DROP))]
