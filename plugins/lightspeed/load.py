"""Staged rows -> lightspeed_staging: COPY into temp tables, one set-based upsert per table.

A `StagingLoad` lives inside one open transaction. Pages are COPYed into temp tables
(`tmp_<table>`, LIKE the target, ON COMMIT DROP) as they arrive; `finish()` then picks the
newest version of each record (`src_<table>`), runs the upsert of each table from
include/sql/upsert/<table>.sql, reconciles deletions and checks the result. Nothing here
commits: the caller (extract.py) owns the transaction, so a failure anywhere leaves the
warehouse as it was. Every identifier comes from `lightspeed.entities`; every value is a
bound parameter or goes through COPY.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extras import execute_values

from lightspeed.entities import Entity, Table
from lightspeed.errors import DataQualityError
from lightspeed.migrate import read_sql
from lightspeed.transform import SUM_TOLERANCE, Row, sanitize_for_quarantine, to_json
from lightspeed.windows import Window

log = logging.getLogger(__name__)

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Rows buffered before a COPY: bounded memory whatever the entity's size (a few pages).
DEFAULT_FLUSH_ROWS = 5000


@dataclass
class TableCounts:
    """What the load did to one staging table."""

    staged: int = 0
    upserted: int = 0
    deleted: int = 0


@dataclass
class LoadOutcome:
    """What `StagingLoad.finish` wrote, per table, and the business time it changed."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    stale: int = 0
    touched_from: datetime | None = None
    touched_to: datetime | None = None

    def touch(self, start: datetime | None, end: datetime | None) -> None:
        for value in (start, end):
            if value is None:
                continue
            if self.touched_from is None or value < self.touched_from:
                self.touched_from = value
            if self.touched_to is None or value > self.touched_to:
                self.touched_to = value


def copy_value(value: Any) -> str:
    """One value in COPY text format (transform.py already refused NUL and bad Unicode)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_rows(
    cur: psycopg2.extensions.cursor, table: str, columns: Sequence[str], rows: Iterable[Row]
) -> int:
    """COPY rows into `table` (a name from the declarations); returns how many were sent."""
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join(map(copy_value, row)))
        buffer.write("\n")
        count += 1
    if count:
        buffer.seek(0)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        cur.copy_expert(statement.as_string(cur), buffer)
    return count


class StagingLoad:
    """The temp tables, buffers and statements of one entity load, on an open transaction.

    Args:
        conn: Warehouse connection inside the caller's transaction.
        entity: What is loaded.
        account_id: Lightspeed account of every row.
        run_id: Written to every changed row, the quarantine and (by extract.py) load_log.
        flush_rows: Buffered rows that trigger a COPY.
    """

    def __init__(
        self,
        conn: psycopg2.extensions.connection,
        entity: Entity,
        *,
        account_id: int,
        run_id: str,
        flush_rows: int = DEFAULT_FLUSH_ROWS,
    ) -> None:
        self.conn = conn
        self.entity = entity
        self.account_id = account_id
        self.run_id = run_id
        self.flush_rows = flush_rows
        self.records = 0  # parent records staged (their ordinal links children to parents)
        self.staged = {t.name: 0 for t in entity.tables}
        self.quarantined_keys: list[int] = []
        self._buffers: dict[str, list[Row]] = {t.name: [] for t in entity.tables}
        self._buffered = 0

    def create_temp_tables(self) -> None:
        """tmp_<table> LIKE each target plus `_seq`: the ordinal of the parent record read."""
        with self.conn.cursor() as cur:
            for table in self.entity.tables:
                cur.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE {tmp} (LIKE {target} INCLUDING DEFAULTS, "
                        "_seq bigint NOT NULL) ON COMMIT DROP"
                    ).format(tmp=sql.Identifier(table.temp), target=_qualified(table))
                )
                if table.has_run_id:
                    # run_id is set by the upsert, not carried by every staged row.
                    cur.execute(
                        sql.SQL("ALTER TABLE {} ALTER COLUMN run_id DROP NOT NULL").format(
                            sql.Identifier(table.temp)
                        )
                    )

    def add(self, rows: dict[str, list[Row]]) -> None:
        """Buffer one accepted record's rows; COPY when the buffer is full."""
        self.records += 1
        for name, table_rows in rows.items():
            buffer = self._buffers[name]
            for row in table_rows:
                buffer.append((*row, self.records))
            self._buffered += len(table_rows)
        if self._buffered >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        with self.conn.cursor() as cur:
            for table in self.entity.tables:
                rows = self._buffers[table.name]
                self.staged[table.name] += copy_rows(
                    cur, table.temp, (*table.columns, "_seq"), rows
                )
                rows.clear()
        self._buffered = 0

    def quarantine(self, items: Sequence[tuple[str | None, str, Any]]) -> None:
        """Store rejected records (key, reason, record) with their reason; never drop them."""
        if not items:
            return
        for key, _reason, _record in items:
            if key is not None:
                self.quarantined_keys.append(int(key))
        with self.conn.cursor() as cur:
            execute_values(
                cur,
                "INSERT INTO lightspeed_staging.quarantine "
                "(account_id, entity, record_key, reason, raw, run_id) VALUES %s",
                [
                    (
                        self.account_id,
                        self.entity.name,
                        key,
                        reason[:1000],
                        to_json(sanitize_for_quarantine(record)),
                        self.run_id,
                    )
                    for key, reason, record in items
                ],
                template="(%s, %s, %s, %s, %s::jsonb, %s)",
            )

    def finish(self, window: Window, *, shop_id: int | None, complete: bool = True) -> LoadOutcome:
        """Upsert every table, reconcile deletions, check; the caller commits.

        Args:
            window: The window read; bounds the deletion of EmployeeHours.
            shop_id: The shop read, for shop-scoped reconciliation.
            complete: True only when every page of the window was read; deletions are
                never inferred from a partial read.
        """
        self.flush()
        outcome = LoadOutcome(
            tables={t.name: TableCounts(self.staged[t.name]) for t in self.entity.tables}
        )
        params = {"account_id": self.account_id, "run_id": self.run_id}
        parent = self.entity.table
        with self.conn.cursor() as cur:
            self._check_staged(cur)
            self._choose_versions(cur, parent)
            self._run_upsert(cur, parent, params, outcome)
            outcome.stale = self._drop_stale(cur, parent)
            for child in self.entity.children:
                self._run_upsert(cur, child, params, outcome)
                self._delete_orphans(cur, parent, child, params, outcome)
            if complete:
                self._reconcile(cur, window, shop_id, params, outcome)
            self._check_loaded(cur)
        return outcome

    # --- steps of finish(), in order ---

    def _check_staged(self, cur: psycopg2.extensions.cursor) -> None:
        """Every row handed to COPY is in the temp table: nothing lost on the way."""
        for table in self.entity.tables:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.temp)))
            (count,) = cur.fetchone()
            if count != self.staged[table.name]:
                raise DataQualityError(
                    f"{table.name}: {self.staged[table.name]} rows were staged but {count} "
                    "arrived in the temp table. Nothing was loaded; rerun the task."
                )

    def _choose_versions(self, cur: psycopg2.extensions.cursor, table: Table) -> None:
        """src_<parent>: one row per key, the newest version, then the latest read."""
        order = [sql.Identifier(c) for c in table.key]
        if table.version:
            order.append(sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(table.version)))
        order.append(sql.SQL("_seq DESC"))
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE {chosen} ON COMMIT DROP AS "
                "SELECT DISTINCT ON ({key}) * FROM {tmp} ORDER BY {order}"
            ).format(
                chosen=sql.Identifier(table.chosen),
                key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
                tmp=sql.Identifier(table.temp),
                order=sql.SQL(", ").join(order),
            )
        )

    def _run_upsert(
        self,
        cur: psycopg2.extensions.cursor,
        table: Table,
        params: dict[str, Any],
        outcome: LoadOutcome,
    ) -> None:
        cur.execute(read_sql(f"upsert/{table.name}.sql"), params)
        changed, start, end = cur.fetchone()
        outcome.tables[table.name].upserted += changed
        outcome.touch(start, end)

    def _drop_stale(self, cur: psycopg2.extensions.cursor, table: Table) -> int:
        """Forget parents the warehouse already holds in a newer version (a slower, older
        run committing late): their children must not be replaced by older ones."""
        if not table.version:
            return 0
        cur.execute(
            sql.SQL(
                "DELETE FROM {chosen} s USING {target} t "
                "WHERE t.account_id = s.account_id AND {join} AND t.{v} > s.{v}"
            ).format(
                chosen=sql.Identifier(table.chosen),
                target=_qualified(table),
                join=_join("t", "s", table.key),
                v=sql.Identifier(table.version),
            )
        )
        return cur.rowcount

    def _delete_orphans(
        self,
        cur: psycopg2.extensions.cursor,
        parent: Table,
        child: Table,
        params: dict[str, Any],
        outcome: LoadOutcome,
    ) -> None:
        """Child rows of a re-read parent that the parent no longer lists (a removed line)."""
        assert child.parent_key is not None and parent.key == (child.parent_key,)
        cur.execute(
            sql.SQL(
                "WITH gone AS ("
                " DELETE FROM {target} t USING {chosen} p"
                " WHERE t.account_id = p.account_id AND t.{pk} = p.{pk}"
                " AND NOT EXISTS (SELECT 1 FROM {tmp} c WHERE c._seq = p._seq AND {match})"
                " RETURNING t.{pk})"
                " SELECT count(*), {time_range} FROM gone"
                " LEFT JOIN {parent} x ON x.account_id = %(account_id)s AND x.{pk} = gone.{pk}"
            ).format(
                target=_qualified(child),
                chosen=sql.Identifier(parent.chosen),
                pk=sql.Identifier(child.parent_key),
                tmp=sql.Identifier(child.temp),
                match=_join("c", "t", child.key),
                time_range=_time_range(parent, "x"),
                parent=_qualified(parent),
            ),
            params,
        )
        deleted, start, end = cur.fetchone()
        outcome.tables[child.name].deleted += deleted
        outcome.touch(start, end)

    def _reconcile(
        self,
        cur: psycopg2.extensions.cursor,
        window: Window,
        shop_id: int | None,
        params: dict[str, Any],
        outcome: LoadOutcome,
    ) -> None:
        table = self.entity.table
        kept = sql.SQL("NOT (t.{} = ANY(%(kept)s))").format(sql.Identifier(table.key[0]))
        absent = sql.SQL("NOT EXISTS (SELECT 1 FROM {tmp} s WHERE {match})").format(
            tmp=sql.Identifier(table.temp), match=_join("s", "t", table.key)
        )
        values = {**params, "kept": self.quarantined_keys, "shop_id": shop_id or 0}
        if self.entity.reconcile == "window":
            statement = self._window_delete(window, kept, absent, values)
        elif self.entity.reconcile == "archive_absent":
            if self.records == 0 and not self.quarantined_keys:
                # An empty full reload is far likelier an API hiccup than a deleted account.
                log.warning("%s: the API returned nothing; not archiving anything", table.name)
                return
            statement = sql.SQL(
                "WITH gone AS (UPDATE {target} t SET archived = true, run_id = %(run_id)s,"
                " loaded_at = now() WHERE t.account_id = %(account_id)s AND NOT t.archived"
                " AND {absent} AND {kept} RETURNING 1)"
                " SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM gone"
            ).format(target=_qualified(table), absent=absent, kept=kept)
        else:
            return
        cur.execute(statement, values)
        deleted, start, end = cur.fetchone()
        outcome.tables[table.name].deleted += deleted
        outcome.touch(start, end)

    def _window_delete(
        self, window: Window, kept: sql.Composable, absent: sql.Composable, values: dict[str, Any]
    ) -> sql.Composable:
        """EmployeeHours of the shop whose check-in lies in the window but were not returned."""
        table = self.entity.table
        column = self.entity.range_column
        assert column is not None
        if window.field is None:  # an unfiltered read saw every row of the shop
            bounds: list[sql.Composable] = [sql.SQL("true")]
        else:
            bounds = [sql.SQL("t.{} <= %(end)s").format(sql.Identifier(column))]
            values["end"] = window.end
        if window.field is not None and window.start is not None:
            bounds.append(sql.SQL("t.{} >= %(start)s").format(sql.Identifier(column)))
            values["start"] = window.start
        return sql.SQL(
            "WITH gone AS (DELETE FROM {target} t WHERE t.account_id = %(account_id)s"
            " AND t.shop_id = %(shop_id)s AND {bounds} AND {absent} AND {kept}"
            " RETURNING t.*) SELECT count(*), {time_range} FROM gone t"
        ).format(
            target=_qualified(table),
            bounds=sql.SQL(" AND ").join(bounds),
            absent=absent,
            kept=kept,
            time_range=_time_range(table, "t"),
        )

    def _check_loaded(self, cur: psycopg2.extensions.cursor) -> None:
        """After the upserts, every accepted record is in the warehouse as read."""
        table = self.entity.table
        cur.execute(
            sql.SQL(
                "SELECT count(*) FROM {chosen} s WHERE NOT EXISTS "
                "(SELECT 1 FROM {target} t WHERE t.account_id = s.account_id AND {match})"
            ).format(
                chosen=sql.Identifier(table.chosen),
                target=_qualified(table),
                match=_join("t", "s", table.key),
            )
        )
        (missing,) = cur.fetchone()
        if missing:
            raise DataQualityError(
                f"{missing} {table.name} records read in this run are missing from "
                f"{table.qualified} after the upsert. Nothing was committed; report this bug."
            )
        if self.entity.name == "sale":
            check_sale_totals(cur)


# Sales read in this run whose stored lines no longer add up to the stored totals. transform
# rejects records that disagree with themselves, so a hit here is a load bug, never data.
_SALE_TOTALS_SQL = """
SELECT s.sale_id, t.calc_subtotal, x.subtotal, t.calc_discount, x.discount
FROM src_sale s
JOIN lightspeed_staging.sale t USING (account_id, sale_id)
CROSS JOIN LATERAL (
    SELECT coalesce(sum(l.calc_subtotal), 0) AS subtotal,
           coalesce(sum(coalesce(l.calc_line_discount, 0)
                       + coalesce(l.calc_transaction_discount, 0)), 0) AS discount
    FROM lightspeed_staging.sale_line l
    WHERE l.account_id = t.account_id AND l.sale_id = t.sale_id
) x
WHERE abs(t.calc_subtotal - x.subtotal) > %(tolerance)s
   OR abs(t.calc_discount - x.discount) > %(tolerance)s
LIMIT 5
"""


def check_sale_totals(cur: psycopg2.extensions.cursor) -> None:
    """Fail when a sale of this run disagrees with the sum of its stored lines."""
    cur.execute(_SALE_TOTALS_SQL, {"tolerance": SUM_TOLERANCE})
    bad = cur.fetchall()
    if bad:
        shown = "; ".join(
            f"sale {row[0]}: subtotal {row[1]} vs lines {row[2]}, discount {row[3]} vs {row[4]}"
            for row in bad
        )
        raise DataQualityError(
            f"Sale totals do not reconcile with their lines after the load ({shown}). "
            "Nothing was committed; report this bug with the run id."
        )


def write_watermark(
    cur: psycopg2.extensions.cursor,
    *,
    account_id: int,
    entity: Entity,
    shop_id: int | None,
    high_water: datetime,
    run_id: str,
) -> None:
    """Move the watermark forward to `high_water`; never backwards."""
    cur.execute(
        "INSERT INTO lightspeed_staging.watermark AS w "
        "(account_id, entity, shop_id, high_water, run_id) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (account_id, entity, shop_id) DO UPDATE SET "
        "high_water = excluded.high_water, run_id = excluded.run_id, updated_at = now() "
        "WHERE w.high_water <= excluded.high_water",
        (account_id, entity.name, shop_id or 0, high_water, run_id),
    )


def _qualified(table: Table) -> sql.Composable:
    return sql.Identifier("lightspeed_staging", table.name)


def _join(left: str, right: str, columns: Sequence[str]) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(
            sql.Identifier(left), sql.Identifier(c), sql.Identifier(right), sql.Identifier(c)
        )
        for c in columns
    )


def _time_range(table: Table, alias: str) -> sql.Composable:
    """min(start), max(end) of the table's business time, NULLs when it has none."""
    if table.time_from is None:
        return sql.SQL("NULL::timestamptz, NULL::timestamptz")
    ends = [
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c)) for c in table.time_to
    ]
    return sql.SQL("min({a}.{start}), max(coalesce({ends}))").format(
        a=sql.Identifier(alias),
        start=sql.Identifier(table.time_from),
        ends=sql.SQL(", ").join(ends),
    )
