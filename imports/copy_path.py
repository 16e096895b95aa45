"""The set-based import of service visits on PostgreSQL: a million rows in well under a minute.

1. Stream: each row is read and its cells parsed by the same parsers as the row-by-row path
   (imports.kinds), then COPYed in batches into a temporary staging table. Nothing is kept in memory
   but one batch; problems found on the way go to a temporary problems table.
2. Check, in SQL: references (customer by external id or else by phone, advisor by user name, all
   within the row's store), external ids repeated inside the file, ids already known (→ updates).
3. Write, in SQL, inside the caller's one transaction: UPDATE … FROM and INSERT … SELECT, then the
   lifecycle moves that service_visit_create would have made row by row in time order (buyers only:
   the first visit in warranty → lifetime, the first out of warranty → loyal, with the passage
   recorded), last contact, and the stale KPI months — with one recompute dispatched at the end.
tests/imports/test_paths.py imports the same file both ways and compares every customer, every
history row and every visit.
"""
from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.services import normalize_phone
from dealership.models import Dealership, User
from dealership.services import kpi_months_mark_stale
from imports.kinds import FALSE_WORDS, TRUE_WORDS, CellError, Column
from imports.readers import open_table

BATCH_ROWS = 50_000
log = logging.getLogger(__name__)

STAGE_COLUMNS = ("row_no", "store_id", "external_id", "customer_ext", "customer_phone", "advisor", "vin", "kind",
                 "opened_at", "closed_at", "revenue", "in_warranty")


def _messages() -> dict[str, str]:
    # Looked up when the report is made, so that they are in the user's language.
    return {
        "unknown_customer": _("Unknown customer %(value)s in this store."),
        "unknown_phone": _("No customer with phone %(value)s in this store."),
        "unknown_advisor": _("Unknown user %(value)s in this store."),
        "duplicate": _("%(value)s is also on row %(row)d."),
    }


def _escape(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def service_visits_copy(*, table, columns: list[Column | None], report, default_store: Dealership | None,
                        stores: dict[str, Dealership], user: User | None, dry_run: bool, progress,
                        source: str | Path, bad_rows_path: str | Path | None) -> None:
    from imports.services import _write_bad_rows  # the same CSV as the row path

    header_of = {c.field: h for c, h in zip(columns, table.headers) if c}
    with transaction.atomic(), connection.execute_wrapper(_log_duration):
        with connection.cursor() as cursor:
            # Sorts and hash joins over a million rows: give them memory for this transaction only.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            _create_tables(cursor)
            started = time.monotonic()
            report.rows = None
            if table.format == "csv" and table.encoding in RAW_ENCODINGS:
                table.rows.close()
                report.rows = _copy_raw_csv(cursor, source, table, columns, header_of, default_store, stores,
                                            progress)
                if report.rows is None:  # COPY refused the file as CSV: read it in Python instead
                    table = open_table(source)
            if report.rows is None:
                report.rows = _stream(cursor, table.rows, columns, header_of, default_store, stores,
                                      lambda: progress(0.5 * table.fraction()))
            log.info("import parse+copy %.2fs for %d rows", time.monotonic() - started, report.rows)
            cursor.execute("ANALYZE imp_stage")  # temporary tables are never analysed by autovacuum
            if report.rows == 0:
                report.error(None, "", _("The file has a header row but no data rows."))
            _resolve(cursor, has_phone="customer_phone" in header_of, has_advisor="advisor" in header_of)
            progress(0.6)
            cursor.execute("SELECT count(*), count(DISTINCT row_no) FROM imp_problem")
            problem_count, bad_count = cursor.fetchone()
            if problem_count:
                _report_problems(cursor, report, header_of, problem_count)
                if bad_rows_path:
                    report.bad_rows = _write_bad_rows(source, bad_rows_path, _problem_rows(cursor, header_of))
                else:
                    report.bad_rows = bad_count
                transaction.set_rollback(True)
                return
            cursor.execute("SELECT count(*) FILTER (WHERE existing_id IS NULL), count(existing_id) FROM imp_row")
            report.created, report.updated = cursor.fetchone()
            _sample(cursor, report, header_of)
            if "external_id" not in header_of or report.created:
                cursor.execute("SELECT count(*) FROM imp_row WHERE external_id IS NULL")
                missing = cursor.fetchone()[0]
                if missing:
                    report.warnings.append(_("%(n)d rows have no external id: importing this file again would "
                                             "add them again.") % {"n": missing})
            if dry_run:
                transaction.set_rollback(True)
                return
            _write(cursor, user)
            progress(0.9)
            _lifecycle(cursor, user)
            cursor.execute("SELECT store_id, min(opened_at) FROM imp_row GROUP BY store_id")
            first_at = dict(cursor.fetchall())
        for store in Dealership.objects.filter(pk__in=first_at):
            # The months are marked above in one statement; this dispatches the recompute once.
            kpi_months_mark_stale(dealership=store, instants=[first_at[store.pk]], dispatch=True)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE imp_stage, imp_row, imp_problem")
    progress(1.0)


def _log_duration(execute, sql, params, many, context):
    # Each statement's time in the log: where the seconds of a big import go (docs/benchmarks.md).
    started = time.monotonic()
    try:
        return execute(sql, params, many, context)
    finally:
        log.info("import sql %.2fs %s", time.monotonic() - started, " ".join(sql.split())[:70])


def _create_tables(cursor) -> None:
    cursor.execute("""
        CREATE TEMP TABLE imp_stage (
            row_no integer NOT NULL, store_id bigint, external_id text, customer_ext text, customer_phone text,
            advisor text, vin text, kind text, opened_at timestamptz, closed_at timestamptz,
            revenue numeric(14, 2), in_warranty boolean
        ) ON COMMIT DROP;
        CREATE TEMP TABLE imp_problem (row_no integer, col text, code text, value text, ref integer)
            ON COMMIT DROP;
    """)


def _stream(cursor, rows, columns, header_of, default_store, stores, progress) -> int:
    """Parse rows in Python (the same parsers as the row path) and COPY them in batches."""
    buffer, problems = io.StringIO(), io.StringIO()
    count = 0
    indexed = [(i, c) for i, c in enumerate(columns) if c is not None]
    store_header = header_of.get("dealership", "dealership")
    customer_header = header_of.get("customer", header_of.get("customer_phone", "customer"))

    def problem(number: int, column: str, message: str) -> None:
        problems.write(f"{number}\t{_escape(column)}\tmsg\t{_escape(message)}\t\\N\n")

    for number, cells in rows:
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        count += 1
        values: dict[str, Any] = {}
        for i, column in indexed:
            cell = cells[i] if i < len(cells) else None
            try:
                values[column.field] = value = column.parse(cell)
            except CellError as exc:
                problem(number, header_of[column.field], str(exc))
                continue
            if column.required and value is None:
                problem(number, header_of[column.field], _("Required."))
        code = values.get("dealership")
        store = (stores.get(code) if code else default_store)
        if store is None:
            problem(number, store_header, _("Unknown store code %(code)s (or not yours).") % {"code": code}
                    if code else _("Required."))
        tz = store.tzinfo if store else None
        for name in ("opened_at", "closed_at"):
            value = values.get(name)
            if value is not None and value.tzinfo is None and tz is not None:
                values[name] = value.replace(tzinfo=tz)
        phone = ""
        if values.get("customer_phone"):
            try:
                phone = normalize_phone(values["customer_phone"])
            except Exception as exc:  # ValidationError with the phone message
                problem(number, header_of["customer_phone"], exc.message_dict["phone"][0])
        if not values.get("customer") and not phone:
            problem(number, customer_header, _("Give the customer: its external id or its phone."))
        opened, closed = values.get("opened_at"), values.get("closed_at")
        if opened and closed and opened.tzinfo and closed.tzinfo and closed < opened:
            problem(number, header_of["closed_at"], _("A repair order cannot close before it was opened."))
        buffer.write("\t".join((
            str(number), _escape(store.pk if store else None), _escape(values.get("external_id") or None),
            _escape(values.get("customer") or None), _escape(phone or None), _escape(values.get("advisor") or None),
            _escape((values.get("vin") or "").upper()), _escape(values.get("kind") or "maintenance"),
            _escape(opened.isoformat() if opened else None), _escape(closed.isoformat() if closed else None),
            _escape(values.get("revenue") if values.get("revenue") is not None else "0"),
            "t" if values.get("in_warranty") else "f",
        )))
        buffer.write("\n")
        if count % BATCH_ROWS == 0:
            _flush(cursor, buffer, problems)
            progress()
    _flush(cursor, buffer, problems)
    return count


# --- the raw CSV path: the file goes to PostgreSQL as it is, and SQL reads the cells ---------------

RAW_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$"
_PLAIN = "{c} !~ '^[[:space:]]|[[:space:]]$'"


def _copy_raw_csv(cursor, source, table, columns, header_of, default_store, stores, progress) -> int | None:
    """COPY the CSV file itself into a table of text cells, then read the cells in SQL.

    SQL reads only the plain, common forms (2025-03-05 14:30, 1200.50, 是/否, codes and labels of the
    kind, an 11-digit phone) and gives the same value as the Python parsers would; a row with any
    other form (or any problem) is handed to those parsers, so results and messages are the same as
    on the row path. Returns None when COPY refuses the file (ragged rows, a bad byte): the caller then
    reads it in Python, which reports the problem by row.
    """
    n = len(table.headers)
    raw_cols = ", ".join(f"c{i} text" for i in range(n))
    cursor.execute(f"CREATE TEMP TABLE imp_raw (row_no integer GENERATED ALWAYS AS IDENTITY (START 2), {raw_cols})"
                   " ON COMMIT DROP")
    try:
        with transaction.atomic():
            with open(source, "rb") as f:
                cursor.copy_expert(
                    f"COPY imp_raw ({', '.join(f'c{i}' for i in range(n))}) FROM STDIN WITH (FORMAT csv, "
                    f"HEADER true, DELIMITER {_literal(table.delimiter)}, "
                    f"ENCODING {_literal(RAW_ENCODINGS[table.encoding])})",
                    f)
    except Exception as exc:  # DataError and friends: the file is not plain CSV for PostgreSQL
        log.info("import: COPY refused the file (%s); reading it in Python", exc)
        cursor.execute("DROP TABLE imp_raw")
        return None
    progress(0.3)
    col = {c.field: f"r.c{i}" for i, c in enumerate(columns) if c is not None}

    def lit(value: Any) -> str:
        return cursor.mogrify("%s", [value]).decode()  # a safely quoted SQL literal

    def plain_text(field: str, max_length: int) -> str:
        c = col.get(field)
        return "true" if c is None else f"({c} IS NULL OR ({_PLAIN.format(c=c)} AND length({c}) <= {max_length}))"

    def value(field: str) -> str:
        return f"NULLIF({col[field]}, '')" if field in col else "NULL"

    ok: list[str] = [plain_text(f, m) for f, m in (("external_id", 64), ("customer", 64), ("advisor", 150))]
    ok.append(f"({col['vin']} IS NULL OR {col['vin']} ~ '^[!-~]{{0,17}}$')" if "vin" in col else "true")
    if "customer_phone" in col:
        ok.append(f"({col['customer_phone']} IS NULL OR {col['customer_phone']} ~ '^([1-9][0-9]{{4,11}})?$')")
    has_customer = " OR ".join(f"{col[f]} <> ''" for f in ("customer", "customer_phone") if f in col) or "false"
    ok.append(f"({has_customer})")
    kind_value = "'maintenance'"
    if "kind" in col:
        c, lookup = col["kind"], columns_by_field(columns)["kind"].parse.lookup
        keys = lit(list(lookup)) + "::text[]"
        ok.append(f"({c} IS NULL OR {c} = '' OR ({_PLAIN.format(c=c)} AND lower({c}) = ANY({keys})))")
        kind_value = (f"COALESCE(({lit(list(lookup.values()))}::text[])"
                      f"[array_position({keys}, lower(NULLIF({c}, '')))],"
                      " 'maintenance')")
    if "revenue" in col:
        c = col["revenue"]
        ok.append(f"({c} IS NULL OR {c} ~ '^([0-9]{{1,12}}(\\.[0-9]{{1,2}})?)?$')")
    warranty_value = "false"
    if "in_warranty" in col:
        c = col["in_warranty"]
        ok.append(f"({c} IS NULL OR {c} = '' OR lower({c}) = ANY({lit(sorted(TRUE_WORDS | FALSE_WORDS))}::text[]))")
        warranty_value = f"lower(COALESCE({c}, '')) = ANY({lit(sorted(TRUE_WORDS))}::text[])"
    codes = {code: store.pk for code, store in stores.items()}
    default_id = f"{lit(default_store.pk if default_store else None)}::bigint"
    if "dealership" in col:
        c = col["dealership"]
        ok.append(f"(CASE WHEN NULLIF({c}, '') IS NULL THEN {default_id} IS NOT NULL "
                  f"ELSE {c} = ANY({lit(list(codes))}::text[]) END)")
        store_id = (f"COALESCE(({lit(list(codes.values()))}::bigint[])[array_position({lit(list(codes))}::text[], "
                    f"NULLIF({c}, ''))], {default_id})")
    else:
        store_id = default_id
    times = {}
    for field in ("opened_at", "closed_at"):
        c = col.get(field)
        if c is None:
            times[field] = ("true", "NULL::timestamptz")
            continue

        def part(start: int, length: int, c: str = c) -> str:
            return f"coalesce(NULLIF(substr({c}, {start}, {length}), '')::int, 0)"
        # A plain match (no captures: PostgreSQL runs it fast) and fixed positions; nested CASEs, not
        # ANDs, because SQL does not promise to test an AND from left to right and a cast would fail.
        valid = (f"CASE WHEN {c} ~ '{_DATETIME}' THEN CASE WHEN {part(1, 4)} >= 1 AND {part(6, 2)} BETWEEN 1 AND 12 "
                 f"AND {part(9, 2)} >= 1 THEN {part(9, 2)} <= extract(day FROM make_date({part(1, 4)}, {part(6, 2)}, 1)"
                 f" + interval '1 month - 1 day') AND {part(12, 2)} < 24 AND {part(15, 2)} < 60 AND {part(18, 2)} < 60"
                 f" ELSE false END ELSE false END")
        parsed = (f"make_timestamptz({part(1, 4)}, {part(6, 2)}, {part(9, 2)}, {part(12, 2)}, {part(15, 2)}, "
                  f"{part(18, 2)}, d.timezone)")
        empty_ok = "true" if field == "closed_at" else "false"
        times[field] = (f"(CASE WHEN NULLIF({c}, '') IS NULL THEN {empty_ok} ELSE {valid} END)",
                        f"(CASE WHEN f.ok AND NULLIF({c}, '') IS NOT NULL THEN {parsed} END)")
    blank = " AND ".join(f"coalesce(r.c{i}, '') = ''" for i in range(n))
    cursor.execute(f"""
        CREATE TEMP TABLE imp_fast ON COMMIT DROP AS
        SELECT r.row_no, ({blank}) AS blank,
               ({" AND ".join(ok)}) AND {times["opened_at"][0]} AND {times["closed_at"][0]} AS ok,
               {store_id} AS store_id
        FROM imp_raw r
    """)
    cursor.execute(f"""
        INSERT INTO imp_stage ({", ".join(STAGE_COLUMNS)})
        SELECT * FROM (
            SELECT r.row_no, f.store_id, {value("external_id")}, {value("customer")}, {value("customer_phone")},
                   {value("advisor")}, upper(COALESCE({col.get("vin", "NULL")}, '')), {kind_value},
                   {times["opened_at"][1]} AS opened_at, {times["closed_at"][1]} AS closed_at,
                   COALESCE({value("revenue")}::numeric(14, 2), 0), {warranty_value}
            FROM imp_raw r JOIN imp_fast f USING (row_no) JOIN dealership_dealership d ON d.id = f.store_id
            WHERE f.ok AND NOT f.blank
        ) s WHERE s.closed_at IS NULL OR s.closed_at >= s.opened_at
    """)
    progress(0.4)
    # Every other row goes through the Python parsers, a page at a time.
    cursor.execute("""
        CREATE TEMP TABLE imp_slow ON COMMIT DROP AS
        SELECT r.* FROM imp_raw r JOIN imp_fast f USING (row_no)
        WHERE NOT f.blank AND NOT EXISTS (SELECT 1 FROM imp_stage s WHERE s.row_no = r.row_no);
        CREATE INDEX ON imp_slow (row_no);
    """)
    last = 0
    while True:
        cursor.execute(f"SELECT * FROM imp_slow WHERE row_no > %s ORDER BY row_no LIMIT {BATCH_ROWS}", [last])
        page = cursor.fetchall()
        if not page:
            break
        last = page[-1][0]
        _stream(cursor, ((r[0], list(r[1:])) for r in page), columns, header_of, default_store, stores, lambda: None)
    cursor.execute("DROP TABLE imp_raw, imp_fast, imp_slow")
    cursor.execute("SELECT count(*) FROM imp_stage")
    return cursor.fetchone()[0]


def columns_by_field(columns: list[Column | None]) -> dict[str, Column]:
    return {c.field: c for c in columns if c is not None}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _flush(cursor, buffer: io.StringIO, problems: io.StringIO) -> None:
    for target, data, cols in (("imp_stage", buffer, STAGE_COLUMNS),
                               ("imp_problem", problems, ("row_no", "col", "code", "value", "ref"))):
        if data.tell():
            data.seek(0)
            cursor.copy_expert(f"COPY {target} ({', '.join(cols)}) FROM STDIN", data)
            data.seek(0)
            data.truncate()


def _resolve(cursor, *, has_phone: bool, has_advisor: bool) -> None:
    """One pass of hash joins: customer, advisor and the visit an external id already names."""
    phone_join = """
        LEFT JOIN (
            SELECT DISTINCT ON (c.dealership_id, c.phone) c.dealership_id, c.phone, c.id
            FROM customers_customer c
            JOIN (SELECT DISTINCT store_id, customer_phone FROM imp_stage
                  WHERE customer_ext IS NULL AND customer_phone IS NOT NULL) p
              ON p.store_id = c.dealership_id AND p.customer_phone = c.phone
            ORDER BY c.dealership_id, c.phone, c.id
        ) byphone ON s.customer_ext IS NULL AND byphone.dealership_id = s.store_id AND byphone.phone = s.customer_phone
    """ if has_phone else ""
    advisor_join = "LEFT JOIN dealership_user u ON u.dealership_id = s.store_id AND u.username = s.advisor"
    cursor.execute(f"""
        CREATE TEMP TABLE imp_row ON COMMIT DROP AS
        SELECT s.*,
               {"COALESCE(byext.id, byphone.id)" if has_phone else "byext.id"} AS customer_id,
               {"u.id" if has_advisor else "NULL::bigint"} AS advisor_id,
               sv.id AS existing_id,
               sv.opened_at AS old_opened_at, sv.closed_at AS old_closed_at, sv.customer_id AS old_customer_id
        FROM imp_stage s
        LEFT JOIN customers_customer byext ON byext.dealership_id = s.store_id AND byext.external_id = s.customer_ext
        {phone_join}
        {advisor_join if has_advisor else ""}
        LEFT JOIN aftersales_servicevisit sv ON sv.dealership_id = s.store_id AND sv.external_id = s.external_id
        WHERE s.store_id IS NOT NULL
    """)
    cursor.execute("ANALYZE imp_row")
    cursor.execute("""
        INSERT INTO imp_problem (row_no, col, code, value, ref)
        SELECT row_no, 'customer', 'unknown_customer', customer_ext, NULL::integer FROM imp_row
         WHERE customer_ext IS NOT NULL AND customer_id IS NULL
        UNION ALL
        SELECT row_no, 'customer_phone', 'unknown_phone', customer_phone, NULL FROM imp_row
         WHERE customer_ext IS NULL AND customer_phone IS NOT NULL AND customer_id IS NULL
        UNION ALL
        SELECT row_no, 'advisor', 'unknown_advisor', advisor, NULL FROM imp_row
         WHERE advisor IS NOT NULL AND advisor_id IS NULL
        UNION ALL
        SELECT row_no, 'external_id', 'duplicate', external_id, first_row FROM (
            SELECT row_no, external_id, min(row_no) OVER (PARTITION BY store_id, external_id) AS first_row
            FROM imp_row WHERE external_id IS NOT NULL
        ) d WHERE row_no <> first_row
    """)


def _message(code: str, value: str | None, ref: int | None, messages: dict[str, str]) -> str:
    if code == "msg":
        return value or ""
    return messages[code] % {"value": value, "row": ref or 0}


def _report_problems(cursor, report, header_of: dict[str, str], total: int) -> None:
    messages = _messages()
    cursor.execute("SELECT row_no, col, code, value, ref FROM imp_problem ORDER BY row_no, col LIMIT %s",
                   [200])
    for row_no, col, code, value, ref in cursor.fetchall():
        report.error(row_no, header_of.get(col, col), _message(code, value, ref, messages))
    report.error_count = total


def _problem_rows(cursor, header_of: dict[str, str]) -> Iterator[tuple[int, list[str]]]:
    """Problems grouped by row, in row order, read in pages (a server-side cursor would need its own
    connection state; keyset pages keep memory flat just the same)."""
    messages = _messages()
    last = -1
    while True:
        cursor.execute("""
            SELECT row_no, array_agg(col ORDER BY col), array_agg(code ORDER BY col),
                   array_agg(value ORDER BY col), array_agg(ref ORDER BY col)
            FROM imp_problem WHERE row_no > %s GROUP BY row_no ORDER BY row_no LIMIT 10000
        """, [last])
        page = cursor.fetchall()
        if not page:
            return
        for row_no, cols, codes, values, refs in page:
            yield row_no, [f"{header_of.get(c, c) or '-'}: {_message(k, v, r, messages)}"
                           for c, k, v, r in zip(cols, codes, values, refs)]
            last = row_no


def _sample(cursor, report, header_of: dict[str, str]) -> None:
    cursor.execute("""
        SELECT row_no, existing_id IS NOT NULL, external_id, customer_ext, customer_phone, opened_at, revenue
        FROM imp_row ORDER BY row_no LIMIT 10
    """)
    for row_no, update, ext, customer, phone, opened, revenue in cursor.fetchall():
        values = {"external_id": ext, "customer": customer, "customer_phone": phone,
                  "opened_at": timezone.localtime(opened).isoformat(sep=" ", timespec="minutes") if opened else None,
                  "revenue": str(revenue)}
        report.sample.append({"row": row_no, "action": _("update") if update else _("create"),
                              "values": {header_of.get(k, k): v for k, v in values.items() if v}})


def _write(cursor, user: User | None) -> None:
    cursor.execute("""
        INSERT INTO dealership_stalemonth (dealership_id, period, marked_at)
        SELECT DISTINCT r.store_id, date_trunc('month', t.at AT TIME ZONE d.timezone)::date, now()
        FROM imp_row r
        JOIN dealership_dealership d ON d.id = r.store_id
        CROSS JOIN LATERAL (VALUES (r.opened_at), (r.closed_at), (r.old_opened_at), (r.old_closed_at)) t(at)
        WHERE t.at IS NOT NULL
        ON CONFLICT (dealership_id, period) DO NOTHING
    """)
    cursor.execute("""
        UPDATE aftersales_servicevisit sv
        SET customer_id = r.customer_id, advisor_id = r.advisor_id, vin = r.vin, kind = r.kind,
            opened_at = r.opened_at, closed_at = r.closed_at, revenue = r.revenue, in_warranty = r.in_warranty
        FROM imp_row r WHERE sv.id = r.existing_id
    """)
    cursor.execute("""
        INSERT INTO aftersales_servicevisit
            (dealership_id, external_id, customer_id, advisor_id, vin, kind, opened_at, closed_at, revenue,
             in_warranty)
        SELECT store_id, external_id, customer_id, advisor_id, vin, kind, opened_at, closed_at, revenue, in_warranty
        FROM imp_row WHERE existing_id IS NULL ORDER BY opened_at, row_no
    """)


def _lifecycle(cursor, user: User | None) -> None:
    """service_visit_create, replayed set-based: rows in (opened_at, row) order, buyers only, forward only."""
    cursor.execute("""
        CREATE TEMP TABLE imp_hop ON COMMIT DROP AS
        WITH buyer AS (
            SELECT c.id, c.stage FROM customers_customer c
            WHERE c.id IN (SELECT customer_id FROM imp_row) AND c.stage IN ('real', 'lifetime')
            FOR UPDATE
        ), first_visit AS (
            SELECT DISTINCT ON (customer_id) customer_id, opened_at, in_warranty
            FROM imp_row ORDER BY customer_id, opened_at, row_no
        ), first_out AS (
            SELECT DISTINCT ON (customer_id) customer_id, opened_at
            FROM imp_row WHERE NOT in_warranty ORDER BY customer_id, opened_at, row_no
        )
        -- a buyer at 'real': the first visit makes him lifetime (in warranty) or loyal (passing lifetime)
        SELECT b.id AS customer_id, 1 AS step, 'real' AS from_stage, 'lifetime' AS to_stage, f.opened_at AS at,
               CASE WHEN f.in_warranty THEN 'service_in_warranty' ELSE 'service' END AS reason
        FROM buyer b JOIN first_visit f ON f.customer_id = b.id WHERE b.stage = 'real'
        UNION ALL
        -- then the first out-of-warranty visit (the first visit itself when it was out of warranty)
        SELECT b.id, 2, 'lifetime', 'loyal', CASE WHEN b.stage = 'real' AND NOT f.in_warranty
                                                  THEN f.opened_at ELSE o.opened_at END, 'service'
        FROM buyer b JOIN first_visit f ON f.customer_id = b.id LEFT JOIN first_out o ON o.customer_id = b.id
        WHERE (b.stage = 'real' AND NOT f.in_warranty) OR o.customer_id IS NOT NULL
    """)
    cursor.execute("""
        INSERT INTO customers_stagechange (customer_id, kind, from_stage, to_stage, at, by_id, reason, recorded_at)
        SELECT customer_id, 'move', from_stage, to_stage, at, %s, reason, now() FROM imp_hop ORDER BY at, step
    """, [user.pk if user else None])
    # One pass over the customers: the moves above, the last contact (customer_touch) and the first
    # service visit (customers_first_service_refresh) together.
    cursor.execute("""
        UPDATE customers_customer c
        SET stage = COALESCE(h.final_stage, c.stage),
            entered_lifetime_at = LEAST(c.entered_lifetime_at, h.lifetime_at),
            entered_loyal_at = LEAST(c.entered_loyal_at, h.loyal_at),
            last_contact_at = GREATEST(c.last_contact_at, m.at),
            first_service_at = LEAST(c.first_service_at, m.first_at),
            updated_at = CASE WHEN h.customer_id IS NULL THEN c.updated_at ELSE now() END
        FROM (SELECT customer_id, max(opened_at) AS at, min(opened_at) AS first_at FROM imp_row
              GROUP BY customer_id) m
        LEFT JOIN (SELECT customer_id,
                          CASE WHEN bool_or(to_stage = 'loyal') THEN 'loyal' ELSE 'lifetime' END AS final_stage,
                          min(at) FILTER (WHERE to_stage = 'lifetime') AS lifetime_at,
                          min(at) FILTER (WHERE to_stage = 'loyal') AS loyal_at
                   FROM imp_hop GROUP BY customer_id) h ON h.customer_id = m.customer_id
        WHERE c.id = m.customer_id
          AND (h.customer_id IS NOT NULL OR c.last_contact_at IS NULL OR c.last_contact_at < m.at
               OR c.first_service_at IS NULL OR c.first_service_at > m.first_at)
    """)
    # A re-imported visit that moved later or to another customer can move a first visit later: those
    # few customers get theirs recomputed (LEAST above only ever lowers it).
    cursor.execute("""
        UPDATE customers_customer c
        SET first_service_at = (SELECT min(v.opened_at) FROM aftersales_servicevisit v WHERE v.customer_id = c.id)
        WHERE c.id IN (SELECT old_customer_id FROM imp_row
                       WHERE existing_id IS NOT NULL AND (old_customer_id <> customer_id OR old_opened_at < opened_at))
    """)
    cursor.execute("DROP TABLE imp_hop")
