"""The set-based import of service visits on PostgreSQL: a million rows in under a minute.

1. Read, in one pass: the CSV goes to PostgreSQL with COPY as it is (imp_raw, text cells), and one
   INSERT … SELECT reads the cells in their plain forms and resolves the references (customer by
   external id or else by phone, advisor by user name, the visit an external id already names)
   straight into imp_row. A row in any other form, or with any problem, is handed to the same Python
   parsers as the row-by-row path (imports.kinds), so values and messages are the same. Files COPY
   cannot take (.xlsx, other encodings, ragged rows) are read by those parsers whole. Nothing is kept
   in memory but one page of rows; problems go to a temporary table.
2. Check, in SQL: unknown references and external ids repeated inside the file.
3. Write, in SQL, inside the caller's one transaction: UPDATE … FROM and INSERT … SELECT, then the
   lifecycle moves that service_visit_create would have made row by row in time order (buyers only:
   the first visit in warranty → lifetime, the first out of warranty → loyal, with the passage
   recorded), last contact, and the stale KPI months — with one recompute dispatched at the end.
Every statement's time is logged (`import sql 12.34s …`), and the commit's, which runs the deferred
foreign-key checks. tests/imports/test_paths.py imports the same files both ways and compares every
customer, every history row and every visit.
"""
from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import DataError, ProgrammingError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.services import customers_service_dates_refresh
from customers.models import LAST_SERVICES, Customer
from customers.services import normalize_phone
from dealership.models import Dealership, User
from dealership.services import kpi_months_mark_stale
from imports.kinds import FALSE_WORDS, TRUE_WORDS, CellError, Column
from imports.readers import open_table

BATCH_ROWS = 50_000
log = logging.getLogger(__name__)

STAGE_COLUMNS = ("row_no", "store_id", "external_id", "customer_ext", "customer_phone", "advisor", "vin", "kind",
                 "opened_at", "closed_at", "revenue", "in_warranty")
TEMP_TABLES = ("imp_raw", "imp_slow", "imp_stage", "imp_row", "imp_problem", "imp_user", "imp_customer", "imp_buyer")


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
    refs = _References(has_phone="customer_phone" in header_of, has_advisor="advisor" in header_of,
                       store_ids=sorted({s.pk for s in stores.values()} if "dealership" in header_of else set())
                       + ([default_store.pk] if default_store else []))
    with transaction.atomic(), connection.execute_wrapper(_log_duration):
        with connection.cursor() as cursor:
            # Sorts and hash joins over a million rows: give them memory for this transaction only.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # Dates are read by comparing timestamp::text with the cell (_read_cells_sql): ISO output.
            cursor.execute("SET LOCAL datestyle = 'ISO'")
            _create_tables(cursor)
            started = time.monotonic()
            report.rows = None
            if table.format == "csv" and table.encoding in RAW_ENCODINGS:
                table.rows.close()
                report.rows = _copy_raw_csv(cursor, source, table, columns, header_of, default_store, stores,
                                            refs, progress)
                if report.rows is None:  # COPY refused the file as CSV: read it in Python instead
                    table = open_table(source)
            if report.rows is None:
                report.rows = _stream(cursor, table.rows, columns, header_of, default_store, stores,
                                      lambda: progress(0.5 * table.fraction()))
                _resolve_staged(cursor, refs)
            log.info("import read+resolve %.2fs for %d rows", time.monotonic() - started, report.rows)
            cursor.execute("ANALYZE imp_row")  # temporary tables are never analysed by autovacuum
            if report.rows == 0:
                report.error(None, "", _("The file has a header row but no data rows."))
            _check(cursor, refs)
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
            # One pass for the counts and each store's first instant (the recompute's start).
            cursor.execute("""
                SELECT store_id, min(opened_at), count(*) FILTER (WHERE existing_id IS NULL), count(existing_id),
                       count(*) FILTER (WHERE external_id IS NULL)
                FROM imp_row GROUP BY store_id
            """)
            per_store = cursor.fetchall()
            first_at = {store_id: at for store_id, at, *_counts in per_store}
            report.created, report.updated, missing = (sum(r[i] for r in per_store) for i in (2, 3, 4))
            _sample(cursor, report, header_of)
            if missing:
                report.warnings.append(_("%(n)d rows have no external id: importing this file again would "
                                         "add them again.") % {"n": missing})
            if dry_run:
                transaction.set_rollback(True)
                return
            if not _references_locked(cursor, user):
                report.error(None, "", _("Customers or advisors named in this file were deleted while it was "
                                         "being imported. Nothing was written: import the file again."))
                transaction.set_rollback(True)
                return
            _write(cursor, updates=report.updated)
            progress(0.9)
            _lifecycle(cursor, user, updates=report.updated)
        for store in Dealership.objects.filter(pk__in=first_at):
            # The months are marked above in one statement; this dispatches the recompute once.
            kpi_months_mark_stale(dealership=store, instants=[first_at[store.pk]], dispatch=True)
        with connection.cursor() as cursor:
            # ON COMMIT DROP is not enough when the caller's transaction goes on (tests, a larger job).
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
        committing = time.monotonic()
    # When this was the outermost transaction, the commit ran the deferred foreign-key checks of every
    # written row: a large part of a big import's time (docs/benchmarks.md).
    log.info("import commit %.2fs", time.monotonic() - committing)
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
        CREATE TEMP TABLE imp_row (
            row_no integer NOT NULL, store_id bigint, external_id text, customer_ext text, customer_phone text,
            advisor text, vin text, kind text, opened_at timestamptz, closed_at timestamptz,
            revenue numeric(14, 2), in_warranty boolean, ok boolean NOT NULL,
            customer_id bigint, advisor_id bigint,
            existing_id bigint, old_opened_at timestamptz, old_closed_at timestamptz, old_customer_id bigint
        ) ON COMMIT DROP;
        CREATE TEMP TABLE imp_problem (row_no integer, col text, code text, value text, ref integer)
            ON COMMIT DROP;
    """)


def _stream(cursor, rows, columns, header_of, default_store, stores, progress) -> int:
    """Parse rows in Python (the same parsers as the row path) and COPY them in batches into imp_stage."""
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
# What str.strip() removes (str.isspace()), as the inside of a regular-expression bracket.
_SPACE_CLASS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# The date forms read in SQL (LIKE shapes) and the same instant as timestamp::text prints it.
_DATE_SHAPES = (("____-__-__ __:__", "{c} || ':00'"), ("____-__-__ __:__:__", "{c}"),
                ("____-__-__", "{c} || ' 00:00:00'"), ("____-__-__T__:__", "overlay({c} placing ' ' from 11) || ':00'"),
                ("____-__-__T__:__:__", "overlay({c} placing ' ' from 11)"))
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$"
_MONEY = r"^([0-9]{1,12}(\.[0-9]{1,2})?)?$"


def _copy_raw_csv(cursor, source, table, columns, header_of, default_store, stores, refs, progress) -> int | None:
    """COPY the CSV file itself into a table of text cells, then read and resolve the cells in one pass.

    Returns the number of rows, or None when COPY refuses the file (ragged rows, a bad byte): the caller
    then reads it in Python, which reports the problem by row.
    """
    n = len(table.headers)
    raw_cols = ", ".join(f"c{i} text" for i in range(n))
    cursor.execute(f"CREATE TEMP TABLE imp_raw (row_no integer GENERATED ALWAYS AS IDENTITY (START 2), {raw_cols})"
                   " ON COMMIT DROP")
    started = time.monotonic()
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
    log.info("import copy %.2fs", time.monotonic() - started)
    progress(0.3)
    try:
        # Optimistic: a plain-looking cell that is no date or number (2025-02-30) makes a cast fail...
        with transaction.atomic():
            cursor.execute(_resolve_sql(_read_cells_sql(cursor, columns, default_store, stores, careful=False),
                                        refs))
    except DataError as exc:
        # ...and then every cell is checked before it is cast: slower, and only for such files.
        log.info("import: %s; reading the cells again, checking each before the cast", str(exc).splitlines()[0])
        cursor.execute(_resolve_sql(_read_cells_sql(cursor, columns, default_store, stores, careful=True), refs))
    read = cursor.rowcount
    progress(0.4)
    # Every other row goes through the Python parsers, a page at a time.
    cursor.execute("""
        CREATE TEMP TABLE imp_slow ON COMMIT DROP AS
        SELECT r.* FROM imp_raw r WHERE r.row_no IN (SELECT row_no FROM imp_row WHERE NOT ok)
    """)
    slow = cursor.rowcount
    log.info("import: %d rows read in SQL, %d handed to the Python parsers", read - slow, slow)
    parsed = 0
    if slow:
        cursor.execute("CREATE INDEX ON imp_slow (row_no); DELETE FROM imp_row WHERE NOT ok")
        last = 0
        while True:
            cursor.execute(f"SELECT * FROM imp_slow WHERE row_no > %s ORDER BY row_no LIMIT {BATCH_ROWS}", [last])
            page = cursor.fetchall()
            if not page:
                break
            last = page[-1][0]
            parsed += _stream(cursor, ((r[0], list(r[1:])) for r in page), columns, header_of, default_store,
                              stores, lambda: None)
        _resolve_staged(cursor, refs)
    cursor.execute("DROP TABLE imp_raw, imp_slow")
    return read - slow + parsed  # rows of blank cells only are no rows, whoever reads them


def _read_cells_sql(cursor, columns: list[Column | None], default_store: Dealership | None,
                    stores: dict[str, Dealership], *, careful: bool) -> str:
    """A SELECT of imp_raw's rows as imp_stage's columns plus `ok`, read in SQL.

    Only the plain forms are read here (2025-03-05 14:30, 1200.50, 是/否, the codes and labels of the
    kind, an 11-digit phone, text without surrounding spaces), each giving exactly the value the Python
    parser gives; a row with any other form gets ok = false and its values are not used. The reading
    is written for the cost per cell (LIKE, one cast and an exact round trip, no regular expression per
    date). `careful` checks each date and amount before casting it: slower, for files where a cast fails.
    Levels of subqueries with OFFSET 0 keep PostgreSQL from computing a value once per use.
    """
    col = {c.field: f"r.c{i}" for i, c in enumerate(columns) if c is not None}

    def lit(value: Any) -> str:
        return cursor.mogrify("%s", [value]).decode()  # a safely quoted SQL literal

    def cell(field: str) -> str:
        return f"NULLIF({col[field]}, '')" if field in col else "NULL::text"

    def blank(c: str) -> str:
        return f"({c} IS NULL OR {c} = '')"

    def lookup(field: str, mapping: dict[str, Any], default: str, sql_type: str) -> str:
        # A known word, or NULL: ASCII cells are compared lower-cased (as Python's lower() does them),
        # others as they are (the Chinese words have no case), so no cell matches here that Python's
        # lookup would not match.
        if field not in col:
            return default
        c = col[field]
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}::{sql_type}" for k, v in mapping.items())
        return (f"CASE WHEN {blank(c)} THEN {default} ELSE CASE CASE WHEN octet_length({c}) = length({c}) "
                f"THEN lower({c}) ELSE {c} END {whens} END END")

    # Cells of free text: no surrounding white space (what strip() would remove) and not too long.
    ok: list[str] = []
    texts = [col[f] for f in ("external_id", "customer", "advisor") if f in col]
    if texts:
        space = lit(f"(^|\x01)[{_SPACE_CLASS}]|[{_SPACE_CLASS}]($|\x01)")
        ok.append(f"concat_ws(E'\\x01', {', '.join(texts)}) !~ {space}")
    ok += [f"coalesce(length({col[f]}), 0) <= {m}" for f, m in (("external_id", 64), ("customer", 64),
                                                                   ("advisor", 150)) if f in col]
    if "vin" in col:
        ok.append(f"coalesce(octet_length({col['vin']}), 0) <= 17 AND coalesce({col['vin']}, '') !~ '[^!-~]'")
    if "customer_phone" in col:
        c = col["customer_phone"]
        ok.append(f"({blank(c)} OR (octet_length({c}) BETWEEN 5 AND 12 AND {c} ~ '^[1-9][0-9]*$'))")
    ok.append(" OR ".join(f"NOT {blank(col[f])}" for f in ("customer", "customer_phone") if f in col) or "false")

    kind = lookup("kind", columns_by_field(columns)["kind"].parse.lookup if "kind" in col else {},
                  "'maintenance'::text", "text")
    warranty = lookup("in_warranty", {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS},
                      "false", "boolean")
    if "revenue" in col:
        c = col["revenue"]
        guard = f"WHEN {c} !~ {lit(_MONEY)} THEN NULL " if careful else ""
        revenue = f"CASE WHEN {blank(c)} THEN 0::numeric {guard}ELSE {c}::numeric END"
    else:
        revenue = "0::numeric"

    def canonical(field: str) -> str:
        if field not in col:
            return "NULL::text"
        c = col[field]
        return "CASE " + " ".join(f"WHEN {c} LIKE '{shape}' THEN {text.format(c=c)}" for shape, text in _DATE_SHAPES) \
            + " END"

    def local(field: str) -> str:
        # The cast fails on a plain-looking impossible date; `careful` checks it first (fixed positions,
        # nested CASEs: SQL does not promise to test an AND from left to right, and a cast would fail).
        if field not in col:
            return "NULL::timestamp"
        c = f"a.{field}_text"
        if not careful:
            return f"CASE WHEN a.{field}_canon IS NOT NULL THEN {c}::timestamp END"

        def part(start: int, length: int) -> str:
            return f"coalesce(NULLIF(substr({c}, {start}, {length}), '')::int, 0)"
        valid = (f"CASE WHEN {c} ~ '{_DATETIME}' THEN CASE WHEN {part(1, 4)} >= 1 AND {part(6, 2)} BETWEEN 1 AND 12 "
                 f"AND {part(9, 2)} >= 1 THEN {part(9, 2)} <= extract(day FROM make_date({part(1, 4)}, {part(6, 2)}, 1)"
                 f" + interval '1 month - 1 day') AND {part(12, 2)} < 24 AND {part(15, 2)} < 60 AND {part(18, 2)} < 60"
                 f" ELSE false END ELSE false END")
        return f"CASE WHEN a.{field}_canon IS NOT NULL THEN CASE WHEN {valid} THEN {c}::timestamp END END"

    if "dealership" in col:
        # The store named in the row (one of the user's), or the store chosen for the whole file.
        c = col["dealership"]
        known = [(code, store.pk, store.timezone) for code, store in stores.items()]
        store_join = (f"LEFT JOIN (VALUES {', '.join(lit(k) for k in known)}) d(code, id, tz) ON d.code = {c}"
                      if known else "LEFT JOIN (SELECT NULL::text, NULL::bigint, NULL::text) d(code, id, tz) ON false")
        store_id = f"CASE WHEN {blank(c)} THEN {lit(default_store.pk if default_store else None)}::bigint ELSE d.id END"
        tz = f"CASE WHEN {blank(c)} THEN {lit(default_store.timezone if default_store else None)}::text ELSE d.tz END"
    else:
        store_join = ""
        store_id, tz = f"{lit(default_store.pk)}::bigint", f"{lit(default_store.timezone)}::text"
    all_blank = " AND ".join(blank(f"r.c{i}") for i in range(len(columns)))
    closed_given = f"NOT {blank(col['closed_at'])}" if "closed_at" in col else "false"
    return f"""
        SELECT row_no, store_id, external_id, customer_ext, customer_phone, advisor, vin, kind, opened_at, closed_at,
               revenue, in_warranty, ok AND (closed_at IS NULL OR closed_at >= opened_at) AS ok
        FROM (
            SELECT b.row_no, b.store_id, b.external_id, b.customer_ext, b.customer_phone, b.advisor, b.vin, b.kind,
                   b.opened_local AT TIME ZONE b.tz AS opened_at, b.closed_local AT TIME ZONE b.tz AS closed_at,
                   b.revenue, b.in_warranty,
                   coalesce(b.cells_ok AND b.store_id IS NOT NULL AND b.kind IS NOT NULL AND b.in_warranty IS NOT NULL
                            AND b.revenue IS NOT NULL AND b.opened_local::text = b.opened_at_canon
                            AND (NOT b.closed_given OR b.closed_local::text = b.closed_at_canon), false) AS ok
            FROM (
                SELECT a.row_no, a.store_id, a.tz, a.external_id, a.customer_ext, a.customer_phone, a.advisor, a.vin,
                       a.kind, a.in_warranty, a.cells_ok, a.closed_given, a.opened_at_canon, a.closed_at_canon,
                       {local("opened_at")} AS opened_local, {local("closed_at")} AS closed_local,
                       CASE WHEN a.revenue >= 0 AND a.revenue < 1e12 AND scale(a.revenue) <= 2 THEN a.revenue END
                           AS revenue
                FROM (
                    SELECT r.row_no, {store_id} AS store_id, {tz} AS tz,
                           {cell("external_id")} AS external_id, {cell("customer")} AS customer_ext,
                           {cell("customer_phone")} AS customer_phone, {cell("advisor")} AS advisor,
                           upper(coalesce({col.get("vin", "NULL")}, '')) AS vin, {kind} AS kind,
                           {warranty} AS in_warranty, {revenue} AS revenue, {closed_given} AS closed_given,
                           {col.get("opened_at", "NULL::text")} AS opened_at_text,
                           {col.get("closed_at", "NULL::text")} AS closed_at_text,
                           {canonical("opened_at")} AS opened_at_canon, {canonical("closed_at")} AS closed_at_canon,
                           {" AND ".join(f"({c})" for c in ok)} AS cells_ok
                    FROM imp_raw r {store_join}
                    WHERE NOT ({all_blank})
                    OFFSET 0
                ) a OFFSET 0
            ) b OFFSET 0
        ) c
    """


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


class _References:
    """What the file can refer to: which columns it has, and the stores its rows can name."""

    def __init__(self, *, has_phone: bool, has_advisor: bool, store_ids: list[int]) -> None:
        self.has_phone, self.has_advisor, self.store_ids = has_phone, has_advisor, store_ids


def _resolve_sql(source: str, refs: _References) -> str:
    """INSERT into imp_row the rows of `source` (imp_stage's columns and ok) with their references, in
    one pass of hash joins: customer (by external id, else by phone), advisor, and the visit an external
    id already names."""
    stores = "ARRAY[" + ", ".join(str(int(pk)) for pk in refs.store_ids) + "]::bigint[]"
    phone_join = f"""
        LEFT JOIN (
            SELECT dealership_id, phone, min(id) AS id FROM customers_customer  -- the oldest wins, as on the row path
            WHERE dealership_id = ANY({stores}) GROUP BY dealership_id, phone
        ) byphone ON s.customer_ext IS NULL AND byphone.dealership_id = s.store_id AND byphone.phone = s.customer_phone
    """ if refs.has_phone else ""
    advisor_join = "LEFT JOIN dealership_user u ON u.dealership_id = s.store_id AND u.username = s.advisor"
    return f"""
        INSERT INTO imp_row
        SELECT s.*,
               {"COALESCE(byext.id, byphone.id)" if refs.has_phone else "byext.id"} AS customer_id,
               {"u.id" if refs.has_advisor else "NULL::bigint"} AS advisor_id,
               sv.id AS existing_id, sv.opened_at AS old_opened_at, sv.closed_at AS old_closed_at,
               sv.customer_id AS old_customer_id
        FROM ({source}) s
        LEFT JOIN customers_customer byext ON byext.dealership_id = s.store_id AND byext.external_id = s.customer_ext
                                          AND byext.dealership_id = ANY({stores})
        {phone_join}
        {advisor_join if refs.has_advisor else ""}
        LEFT JOIN aftersales_servicevisit sv ON sv.dealership_id = s.store_id AND sv.external_id = s.external_id
                                            AND sv.dealership_id = ANY({stores})
    """


def _resolve_staged(cursor, refs: _References) -> None:
    """The rows the Python parsers read (imp_stage), resolved into imp_row."""
    cursor.execute("ANALYZE imp_stage")
    cursor.execute(_resolve_sql(f"SELECT {', '.join(STAGE_COLUMNS)}, true FROM imp_stage WHERE store_id IS NOT NULL",
                                refs))


def _check(cursor, refs: _References) -> None:
    """Unknown references and external ids repeated inside the file, into imp_problem."""
    checks = ["""SELECT row_no, 'customer', 'unknown_customer', customer_ext, NULL::integer FROM imp_row
                 WHERE customer_ext IS NOT NULL AND customer_id IS NULL"""]
    if refs.has_phone:
        checks.append("""SELECT row_no, 'customer_phone', 'unknown_phone', customer_phone, NULL FROM imp_row
                         WHERE customer_ext IS NULL AND customer_phone IS NOT NULL AND customer_id IS NULL""")
    if refs.has_advisor:
        checks.append("""SELECT row_no, 'advisor', 'unknown_advisor', advisor, NULL FROM imp_row
                         WHERE advisor IS NOT NULL AND advisor_id IS NULL""")
    # Repeated ids by hashing (no sort of the whole file); each repeat names the first row.
    checks.append("""SELECT r.row_no, 'external_id', 'duplicate', r.external_id, d.first_row FROM imp_row r
                     JOIN (SELECT store_id, external_id, min(row_no) AS first_row FROM imp_row
                           WHERE external_id IS NOT NULL GROUP BY store_id, external_id HAVING count(*) > 1) d
                       ON d.store_id = r.store_id AND d.external_id = r.external_id
                     WHERE r.row_no <> d.first_row""")
    cursor.execute("INSERT INTO imp_problem (row_no, col, code, value, ref) " + " UNION ALL ".join(checks))


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


def _references_locked(cursor, user: User | None) -> bool:
    """Lock what the new rows refer to (the customers in their stores, the advisors, the importing user)
    until the commit, so that no other transaction can delete them, and tell whether all are still there.

    This is what the per-row foreign-key checks would do at the commit (a lock on each referenced row),
    done once for each row referred to, so that the inserts can skip them (_row_checks_skipped)."""
    cursor.execute("""
        CREATE TEMP TABLE imp_user ON COMMIT DROP AS
        SELECT advisor_id AS id FROM imp_row WHERE advisor_id IS NOT NULL UNION SELECT %s::bigint WHERE %s IS NOT NULL;
        SELECT (SELECT count(*) FROM (SELECT DISTINCT customer_id, store_id FROM imp_row) r)
               + (SELECT count(*) FROM imp_user),
               (SELECT count(*) FROM (
                   SELECT 1 FROM customers_customer c
                   JOIN (SELECT DISTINCT customer_id, store_id FROM imp_row) r
                     ON c.id = r.customer_id AND c.dealership_id = r.store_id
                   FOR KEY SHARE OF c) x)
               + (SELECT count(*) FROM (
                   SELECT 1 FROM dealership_user u WHERE u.id IN (SELECT id FROM imp_user) FOR KEY SHARE) x)
    """, [user.pk if user else None] * 2)
    wanted, locked = cursor.fetchone()
    return wanted == locked


@contextmanager
def _row_checks_skipped(cursor):
    """Insert without the per-row foreign-key triggers, whose checks _references_locked made set-based
    (PostgreSQL's advice for bulk loads: 2 M checks took 14–25 s of a 1 M-row import). Only where the
    database role may set `session_replication_role` (a superuser, or after `GRANT SET ON PARAMETER
    session_replication_role`); otherwise the triggers run as usual. Only around the inserts given."""
    try:
        with transaction.atomic():  # a refusal must not abort the import's transaction
            cursor.execute("SET LOCAL session_replication_role = replica")
        skipped = True
    except ProgrammingError:
        skipped = False
    log.info("import row checks %s", "skipped (checked set-based)" if skipped else "kept (role may not skip them)")
    yield
    if skipped:  # after an error the transaction is rolled back, and the setting with it
        cursor.execute("SET LOCAL session_replication_role = origin")


def _write(cursor, *, updates: int) -> None:
    # The months of every instant written or overwritten, in the store's zone. A month begins at most
    # once in a day, so the first and last instant of each day name all the months of that day's
    # instants: a few thousand conversions instead of millions.
    old_times = """
        UNION ALL SELECT store_id, old_opened_at FROM imp_row WHERE existing_id IS NOT NULL
        UNION ALL SELECT store_id, old_closed_at FROM imp_row WHERE old_closed_at IS NOT NULL
    """ if updates else ""
    cursor.execute(f"""
        INSERT INTO dealership_stalemonth (dealership_id, period, marked_at)
        SELECT DISTINCT b.store_id, date_trunc('month', e.at AT TIME ZONE d.timezone)::date, now()
        FROM (
            SELECT store_id, min(at) AS first_at, max(at) AS last_at
            FROM (
                SELECT store_id, opened_at AS at FROM imp_row
                UNION ALL SELECT store_id, closed_at FROM imp_row WHERE closed_at IS NOT NULL
                {old_times}
            ) t
            GROUP BY store_id, date_bin('1 day', at, timestamptz '2000-01-01')
        ) b
        JOIN dealership_dealership d ON d.id = b.store_id
        CROSS JOIN LATERAL (VALUES (b.first_at), (b.last_at)) e(at)
        ON CONFLICT (dealership_id, period) DO NOTHING
    """)
    if updates:
        cursor.execute("""
            UPDATE aftersales_servicevisit sv
            SET customer_id = r.customer_id, advisor_id = r.advisor_id, vin = r.vin, kind = r.kind,
                opened_at = r.opened_at, closed_at = r.closed_at, revenue = r.revenue, in_warranty = r.in_warranty
            FROM imp_row r WHERE sv.id = r.existing_id
        """)
    # In time order, as the row path creates them (and the time-ordered indexes are appended to).
    with _row_checks_skipped(cursor):
        cursor.execute("""
            INSERT INTO aftersales_servicevisit
                (dealership_id, external_id, customer_id, advisor_id, vin, kind, opened_at, closed_at, revenue,
                 in_warranty)
            SELECT store_id, external_id, customer_id, advisor_id, vin, kind, opened_at, closed_at, revenue,
                   in_warranty
            FROM imp_row WHERE existing_id IS NULL ORDER BY opened_at, row_no
        """)


def _lifecycle(cursor, user: User | None, *, updates: int) -> None:
    """service_visit_create, replayed set-based: rows in (opened_at, row) order, buyers only, forward only.

    Per customer, only three instants matter: his first visit (→ lifetime, for a buyer at real), his
    first visit out of warranty (→ loyal), and his last (last contact). One hashed pass over the rows
    finds them; the file's row order breaks a tie at the first instant, as on the row path.
    """
    cursor.execute("""
        CREATE TEMP TABLE imp_customer ON COMMIT DROP AS
        SELECT customer_id, min(opened_at) AS first_at, max(opened_at) AS last_at,
               min(opened_at) FILTER (WHERE in_warranty) AS first_in_at,
               min(opened_at) FILTER (WHERE NOT in_warranty) AS first_out_at,
               (array_agg(opened_at ORDER BY opened_at DESC) FILTER (WHERE existing_id IS NULL))[1:4] AS latest
        FROM imp_row GROUP BY customer_id
    """)
    cursor.execute("""
        CREATE TEMP TABLE imp_buyer ON COMMIT DROP AS
        WITH locked AS (
            SELECT c.id, c.stage FROM customers_customer c
            WHERE c.id IN (SELECT customer_id FROM imp_customer) AND c.stage IN ('real', 'lifetime')
            FOR UPDATE
        ), tie AS (
            -- visits in and out of warranty at the first instant: the one higher in the file came first
            SELECT DISTINCT ON (r.customer_id) r.customer_id, r.in_warranty
            FROM imp_row r JOIN imp_customer s ON s.customer_id = r.customer_id AND r.opened_at = s.first_at
            WHERE s.first_in_at = s.first_at AND s.first_out_at = s.first_at
            ORDER BY r.customer_id, r.row_no
        )
        SELECT s.customer_id, l.stage, s.first_at, s.first_out_at,
               CASE WHEN s.first_in_at IS DISTINCT FROM s.first_at THEN false
                    WHEN s.first_out_at IS DISTINCT FROM s.first_at THEN true
                    ELSE t.in_warranty END AS first_in_warranty
        FROM locked l JOIN imp_customer s ON s.customer_id = l.id LEFT JOIN tie t ON t.customer_id = s.customer_id
    """)
    with _row_checks_skipped(cursor):  # the customers are locked above, the user by _references_locked
        _history_insert(cursor, user)
    # The latest four visits: the new visits' when he had none, else the latest four of his kept ones
    # and the new ones, merged once per customer here (re-imported visits are recomputed below).
    kept = ", ".join(f"c.{column}" for column in LAST_SERVICES)
    cursor.execute(f"""
        UPDATE imp_customer s
        SET latest = (SELECT array_agg(x ORDER BY x DESC) FROM (
                          SELECT x FROM unnest(s.latest || ARRAY[{kept}]) x WHERE x IS NOT NULL
                          ORDER BY x DESC LIMIT 4) y)
        FROM customers_customer c
        WHERE c.id = s.customer_id AND s.latest IS NOT NULL AND c.last_service_at IS NOT NULL
    """)
    # One pass over the customers: the moves above (and the latest change they make), the last contact
    # (customer_touch), the first and the latest four service visits (customers_service_dates_refresh)
    # together.
    latest = ", ".join(f"{column} = CASE WHEN s.latest IS NULL THEN c.{column} ELSE s.latest[{k}] END"
                       for k, column in enumerate(LAST_SERVICES, 1))
    cursor.execute(f"""
        UPDATE customers_customer c
        SET stage = CASE WHEN b.first_out_at IS NOT NULL THEN 'loyal' WHEN b.stage = 'real' THEN 'lifetime'
                         ELSE c.stage END,
            entered_lifetime_at = CASE WHEN b.stage = 'real' THEN LEAST(c.entered_lifetime_at, b.first_at)
                                       ELSE c.entered_lifetime_at END,
            entered_loyal_at = LEAST(c.entered_loyal_at, b.first_out_at),
            last_contact_at = GREATEST(c.last_contact_at, s.last_at),
            first_service_at = LEAST(c.first_service_at, s.first_at),
            {latest},
            stage_changed_at = GREATEST(c.stage_changed_at, CASE WHEN b.stage = 'real' THEN b.first_at END,
                                        b.first_out_at),
            updated_at = CASE WHEN b.stage = 'real' OR b.first_out_at IS NOT NULL THEN now() ELSE c.updated_at END
        FROM imp_customer s LEFT JOIN imp_buyer b ON b.customer_id = s.customer_id
        WHERE c.id = s.customer_id
          AND (b.stage = 'real' OR b.first_out_at IS NOT NULL
               OR c.last_contact_at IS NULL OR c.last_contact_at < s.last_at
               OR c.first_service_at IS NULL OR c.first_service_at > s.first_at OR s.latest IS NOT NULL)
    """)
    if not updates:
        return
    # A re-imported visit that moved in time or to another customer can move a first visit later and
    # change the latest four of both customers: those few get theirs recomputed from their visits.
    moved = RawSQL("SELECT unnest(ARRAY[old_customer_id, customer_id]) FROM imp_row WHERE existing_id IS NOT NULL"
                   " AND (old_customer_id <> customer_id OR old_opened_at <> opened_at)", [])
    customers_service_dates_refresh(Customer.objects.filter(pk__in=moved))


def _history_insert(cursor, user: User | None) -> None:
    cursor.execute("""
        INSERT INTO customers_stagechange (customer_id, kind, from_stage, to_stage, at, by_id, reason, recorded_at)
        SELECT b.customer_id, 'move', h.from_stage, h.to_stage, h.at, %s, h.reason, now()
        FROM imp_buyer b CROSS JOIN LATERAL (VALUES
            -- a buyer at 'real': the first visit makes him lifetime (in warranty) or loyal (passing lifetime)
            (1, 'real', 'lifetime', CASE WHEN b.stage = 'real' THEN b.first_at END,
             CASE WHEN b.first_in_warranty THEN 'service_in_warranty' ELSE 'service' END),
            -- then the first out-of-warranty visit (the first visit itself when it was out of warranty)
            (2, 'lifetime', 'loyal', b.first_out_at, 'service')
        ) h(step, from_stage, to_stage, at, reason)
        WHERE h.at IS NOT NULL
        ORDER BY h.at, h.step
    """, [user.pk if user else None])
