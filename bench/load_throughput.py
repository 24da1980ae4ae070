"""Load throughput of the warehouse: COPY + set-based upsert, against DbApiHook.insert_rows.

No HTTP: sales are built in the hook's normalized shape and go through the real
transform.py and load.py (temp-table COPY, the set-based upserts, child-row reconciliation
and the post-load checks) into a throwaway database, streamed in chunks so memory stays
flat at any size. Transform time is measured apart; "load" is COPY + upsert + checks +
commit.

In the same run, on the same rows (transformed once, loaded both ways, each way timed on
its own into its own database), the naive way most DAGs load a table:
`PostgresHook.insert_rows(..., replace=True)`, i.e. airflow.providers.common.sql's
DbApiHook.insert_rows with PostgreSQL's ON CONFLICT upsert, executemany in 1,000-row
commits, in batches of 100,000 rows. The re-load passes also time psycopg2's
`cursor.executemany` with the SQL the hook's dialect writes (what insert_rows does where
psycopg 3 is not installed: one round trip per row). Three passes: a first load of
`--lines`, then the first `--rerun-lines` again unchanged (what a 48-hour lookback
re-reads) and edited.

    .venv/bin/python -m bench.load_throughput                  # 1,000,000 lines, rerun 100,000
    .venv/bin/python -m bench.load_throughput --lines 20000 --rerun-lines 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `lightspeed` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402
from lightspeed import entities  # noqa: E402
from lightspeed.load import StagingLoad  # noqa: E402
from lightspeed.transform import Context, Rows, transform_record  # noqa: E402
from lightspeed.windows import Window  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK_SALES = 2_000  # sales generated and transformed at a time: bounded memory
NAIVE_CONN_ID = "bench_naive_warehouse"
NAIVE_BATCH_ROWS = 100_000  # rows handed to one insert_rows call (a DAG loading page batches)
CONTEXT = Context(account_id=1, extracted_at=START, shop_id=1, known_shop_ids=frozenset({1}))


def iter_sales(count: int, lines_per_sale: int, edit: int = 0) -> Iterator[dict[str, Any]]:
    """Sales with `lines_per_sale` lines and one payment each; `edit` > 0 changes every sale."""
    for n in range(1, count + 1):
        at = START + timedelta(seconds=37 * n)
        stamp = (at + timedelta(hours=edit)).isoformat()
        lines = []
        for k in range(lines_per_sale):
            price = Decimal(100 + (n * 7 + k * 13) % 900) / 10 + edit
            lines.append(
                {
                    "saleLineID": str(n * 100 + k),
                    "saleID": str(n),
                    "shopID": "1",
                    "itemID": str(1 + (n + k) % 500),
                    "unitQuantity": "1",
                    "unitPrice": str(price),
                    "calcSubtotal": str(price),
                    "calcLineDiscount": "0",
                    "calcTransactionDiscount": "0",
                    "calcTotal": str(price),
                    "timeStamp": stamp,
                }
            )
        subtotal = str(sum(Decimal(line["calcSubtotal"]) for line in lines))
        yield {
            "saleID": str(n),
            "shopID": "1",
            "timeStamp": stamp,
            "completed": "true",
            "voided": "true" if edit else "false",
            "completeTime": at.isoformat(),
            "calcSubtotal": subtotal,
            "calcDiscount": "0",
            "calcTotal": subtotal,
            "SaleLines": lines,
            "SalePayments": [
                {
                    "salePaymentID": str(n),
                    "saleID": str(n),
                    "paymentTypeID": "1",
                    "amount": subtotal,
                }
            ],
        }


def transformed_chunks(
    sales: int, lines_per_sale: int, edit: int = 0
) -> Iterator[tuple[list[Rows], float]]:
    """Chunks of transformed sales, each with the seconds spent building and transforming it."""
    source = iter_sales(sales, lines_per_sale, edit)
    while True:
        started = time.perf_counter()
        chunk = []
        for record in source:
            result = transform_record(entities.SALES, record, CONTEXT)
            if not isinstance(result, Rows):
                raise AssertionError(f"synthetic sale rejected: {result}")
            chunk.append(result)
            if len(chunk) == CHUNK_SALES:
                break
        if not chunk:
            return
        yield chunk, time.perf_counter() - started


class ProductLoad:
    """One extraction's load on its own connection: COPY into temp tables as rows come,
    then upsert, checks and commit in `finish`. Only the load's own calls are timed."""

    def __init__(self, dsn: str, label: str) -> None:
        import psycopg2

        self.label = label
        self.copy_s = self.upsert_s = 0.0
        self.conn = psycopg2.connect(dsn)
        started = time.perf_counter()
        self.load = StagingLoad(self.conn, entities.SALES, account_id=1, run_id=f"bench-{label}")
        self.load.create_temp_tables()
        self.copy_s += time.perf_counter() - started

    def add(self, chunk: list[Rows]) -> None:
        started = time.perf_counter()
        for result in chunk:
            self.load.add(result.rows)
        self.copy_s += time.perf_counter() - started

    def finish(self) -> dict[str, int]:
        started = time.perf_counter()
        try:
            self.load.flush()
            self.copy_s += time.perf_counter() - started
            started = time.perf_counter()
            window = Window("completeTime", START, START + timedelta(days=3650), "days_back")
            outcome = self.load.finish(window, shop_id=1)
            self.conn.commit()
        finally:
            self.conn.close()
        self.upsert_s += time.perf_counter() - started
        return {name: counts.upserted for name, counts in outcome.tables.items()}


class NaiveLoad:
    """The naive way, per table and batch of rows, ON CONFLICT (key) DO UPDATE every column.

    `insert_rows`: what most DAGs do, `PostgresHook.insert_rows(replace=True)` with its
    defaults (executemany, a commit every 1,000 rows; with psycopg 3 installed, as here,
    executemany is pipelined). `executemany`: what that call does on a psycopg2-only install
    (DbApiHook.insert_rows: `cursor.executemany`, one round trip per row), with the SQL the
    hook's PostgreSQL dialect generates.
    """

    def __init__(self, label: str, method: str, batch_rows: int = NAIVE_BATCH_ROWS) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        self.label = label
        self.method = method
        self.batch_rows = batch_rows
        self.hook = PostgresHook(postgres_conn_id=NAIVE_CONN_ID)
        self.hook.get_first("SELECT 1")  # connection lookup and imports: not the load's cost
        self.seconds = 0.0
        self.staged = {table.name: 0 for table in entities.SALES.tables}
        self._pending: dict[str, list[tuple]] = {t.name: [] for t in entities.SALES.tables}
        self._buffered = 0

    def add(self, chunk: list[Rows]) -> None:
        run_id = f"bench-naive-{self.label}"
        for result in chunk:
            for name, rows in result.rows.items():
                self._pending[name].extend((*row, run_id) for row in rows)
                self._buffered += len(rows)
        if self._buffered >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        started = time.perf_counter()
        for table in entities.SALES.tables:
            rows = self._pending[table.name]
            if rows:
                self._insert(table, rows)
            self.staged[table.name] += len(rows)
            rows.clear()
        self._buffered = 0
        self.seconds += time.perf_counter() - started

    def _insert(self, table: Any, rows: list[tuple]) -> None:
        fields = [*table.columns, "run_id"]
        index = ["account_id", *table.key]
        if self.method == "insert_rows":
            self.hook.insert_rows(
                table.qualified, rows, target_fields=fields, replace=True, replace_index=index
            )
            return
        import psycopg2

        statement = self.hook.dialect.generate_replace_sql(
            table.qualified, rows[0], fields, replace_index=index
        )
        conn = psycopg2.connect(os.environ[f"AIRFLOW_CONN_{NAIVE_CONN_ID.upper()}"])
        try:
            with conn.cursor() as cur:
                for start in range(0, len(rows), 1000):
                    cur.executemany(statement, rows[start : start + 1000])
                    conn.commit()
        finally:
            conn.close()


def compare_pass(
    ours: str,
    sales: int,
    lines_per_sale: int,
    label: str,
    edit: int = 0,
    methods: Sequence[str] = ("insert_rows",),
) -> dict[str, Any]:
    """Transform the sales once; load the same rows every way, each timed on its own."""
    product = ProductLoad(ours, label)
    baselines = [NaiveLoad(label, method) for method in methods]
    transform_s = 0.0
    for chunk, seconds in transformed_chunks(sales, lines_per_sale, edit):
        transform_s += seconds
        product.add(chunk)
        for baseline in baselines:
            baseline.add(chunk)
    changed = product.finish()
    out: dict[str, Any] = {
        "product": _report(
            "COPY+upsert",
            label,
            product.load.staged,
            product.copy_s + product.upsert_s,
            transform_s=transform_s,
            changed=changed,
        )  # fmt: skip
    }
    out["product"]["copy_s"] = round(product.copy_s, 2)
    out["product"]["upsert_s"] = round(product.upsert_s, 2)
    for baseline in baselines:
        baseline.flush()
        naive = _report(baseline.method, label, baseline.staged, baseline.seconds)
        naive["ratio"] = round(out["product"]["rows_per_s"] / naive["rows_per_s"], 2)
        out[baseline.method] = naive
        print(
            f"  {'':>11} {label:>9}: COPY+upsert / {baseline.method} = {naive['ratio']:.1f} x",
            flush=True,
        )
    return out


def _report(
    method: str,
    label: str,
    staged: dict[str, int],
    load_s: float,
    *,
    transform_s: float | None = None,
    changed: dict[str, int] | None = None,
) -> dict[str, Any]:
    rows = sum(staged.values())
    lines = staged["sale_line"]
    out = {
        "method": method,
        "pass": label,
        "sale_lines": lines,
        "rows": rows,
        "load_s": round(load_s, 2),
        "lines_per_s": round(lines / load_s),
        "rows_per_s": round(rows / load_s),
        "transform_s": round(transform_s, 2) if transform_s is not None else None,
        "changed": changed,
    }
    extra = f" | transform {transform_s:6.1f} s" if transform_s is not None else ""
    print(
        f"  {method:>11} {label:>9}: {lines:>9,} lines / {rows:>9,} rows in {load_s:7.2f} s = "
        f"{lines / load_s:>8,.0f} lines/s, {rows / load_s:>8,.0f} rows/s{extra}",
        flush=True,
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    common.isolate_airflow()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="sale lines of the first load")
    parser.add_argument(
        "--rerun-lines",
        type=int,
        default=100_000,
        help="sale lines loaded again unchanged, then edited (a lookback re-read)",
    )
    parser.add_argument("--lines-per-sale", type=int, default=5)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    per_sale = args.lines_per_sale
    full = max(1, args.lines // per_sale)
    rerun = max(1, min(args.rerun_lines, args.lines) // per_sale)

    print(
        f"Staging load, {per_sale} lines a sale: first load of {full * per_sale:,} lines, then "
        f"{rerun * per_sale:,} of them again, unchanged and edited",
        flush=True,
    )
    passes: dict[str, dict[str, Any]] = {}
    with common.throwaway_database() as ours, common.throwaway_database() as naive:
        os.environ[f"AIRFLOW_CONN_{NAIVE_CONN_ID.upper()}"] = naive
        passes["first_load"] = compare_pass(ours, full, per_sale, "insert")
        both = ("insert_rows", "executemany")
        passes["reload_unchanged"] = compare_pass(ours, rerun, per_sale, "unchanged", methods=both)
        passes["reload_edited"] = compare_pass(ours, rerun, per_sale, "update", 1, methods=both)
    common.write_json(
        args.json,
        {
            "benchmark": "load_throughput",
            "command": common.command_line(),
            "lines_per_sale": per_sale,
            "passes": passes,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
