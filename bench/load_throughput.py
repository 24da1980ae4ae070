"""Load throughput of the warehouse: synthetic sales through transform, COPY and upsert.

No HTTP: records are built in memory in the hook's normalized shape, then go through the
real transform.py and load.py (temp-table COPY, the set-based upserts, child-row
reconciliation and the post-load checks) into a throwaway database. Three passes: a first
load (inserts), the same records again (nothing changes), and every sale edited (updates).

    .venv/bin/python bench/load_throughput.py                 # 100,000 sale lines
    .venv/bin/python bench/load_throughput.py --lines 20000 --lines-per-sale 4
    .venv/bin/python bench/load_throughput.py --dsn postgresql://.../warehouse  # migrated DB
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

import psycopg2  # noqa: E402

from lightspeed import entities  # noqa: E402
from lightspeed.load import StagingLoad  # noqa: E402
from lightspeed.migrate import migrate  # noqa: E402
from lightspeed.transform import Context, Rows, transform_record  # noqa: E402
from lightspeed.windows import Window  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_sales(count: int, lines_per_sale: int, edit: int = 0) -> list[dict[str, Any]]:
    """Sales with `lines_per_sale` lines and one payment each; `edit` > 0 changes every sale."""
    sales = []
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
        sales.append(
            {
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
        )
    return sales


def one_pass(dsn: str, records: list[dict[str, Any]], label: str) -> dict[str, float]:
    ctx = Context(account_id=1, extracted_at=START, shop_id=1, known_shop_ids=frozenset({1}))
    started = time.perf_counter()
    transformed = [transform_record(entities.SALES, record, ctx) for record in records]
    transform_s = time.perf_counter() - started
    assert all(isinstance(t, Rows) for t in transformed), "synthetic data must be valid"
    conn = psycopg2.connect(dsn)
    try:
        started = time.perf_counter()
        load = StagingLoad(conn, entities.SALES, account_id=1, run_id=f"bench-{label}")
        load.create_temp_tables()
        for result in transformed:
            load.add(result.rows)
        load.flush()
        copy_s = time.perf_counter() - started
        window = Window("completeTime", START, START + timedelta(days=365), "days_back")
        outcome = load.finish(window, shop_id=1)
        conn.commit()
        total_s = time.perf_counter() - started
    finally:
        conn.close()
    rows = sum(load.staged.values())
    lines = load.staged["sale_line"]
    changed = {name: counts.upserted for name, counts in outcome.tables.items()}
    print(
        f"{label:>9}: {lines:,} lines / {rows:,} rows | transform {transform_s:6.2f}s | "
        f"COPY {copy_s:6.2f}s | COPY+upsert {total_s:6.2f}s = {lines / total_s:9,.0f} lines/s, "
        f"{rows / total_s:9,.0f} rows/s | changed {changed}"
    )
    return {"lines_per_s": lines / total_s, "rows_per_s": rows / total_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="sale lines to load")
    parser.add_argument("--lines-per-sale", type=int, default=5)
    parser.add_argument("--dsn", help="a migrated warehouse to use (default: a throwaway DB)")
    args = parser.parse_args()
    sales = max(1, args.lines // args.lines_per_sale)

    name = None
    dsn = args.dsn
    if dsn is None:
        name = f"ls_bench_{uuid.uuid4().hex[:8]}"
        _admin(f'CREATE DATABASE "{name}"')
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
        conn = psycopg2.connect(dsn)
        migrate(conn)
        conn.close()
    try:
        print(f"{sales:,} sales x {args.lines_per_sale} lines into {dsn.rsplit('/', 1)[-1]}")
        one_pass(dsn, synthetic_sales(sales, args.lines_per_sale), "insert")
        one_pass(dsn, synthetic_sales(sales, args.lines_per_sale), "unchanged")
        one_pass(dsn, synthetic_sales(sales, args.lines_per_sale, edit=1), "update")
    finally:
        if name:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


def _admin(statement: str) -> None:
    conn = psycopg2.connect(ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
