"""Benchmark `lightspeed.aggregates.rebuild` at chain scale: 50 shops over ~1M sale lines.

Creates a throwaway database, migrates it, COPYs synthetic staging rows straight into
lightspeed_staging (no API, no transform: this measures the aggregate SQL only), then times
rebuilds the way the shop DAGs run them: one call per shop, each its own transaction.

    .venv/bin/python -m bench.aggregates_rebuild                 # 50 shops, 1M lines, 90 days
    .venv/bin/python -m bench.aggregates_rebuild --lines 200000  # quicker
    .venv/bin/python -m bench.aggregates_rebuild --json out.json # figures for bench.run
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time as clock
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402
from lightspeed.aggregates import LocationSpec, rebuild  # noqa: E402
from lightspeed.dashboard import build_dashboard  # noqa: E402
from lightspeed.migrate import migrate  # noqa: E402
from lightspeed.reports import totaling, write_export  # noqa: E402

ACCOUNT_ID = 1
ZONES = ("US/Eastern", "US/Central", "US/Mountain", "US/Pacific", "America/Phoenix")
END = datetime(2025, 11, 4, tzinfo=UTC)  # the last day includes the autumn DST change


def specs(shops: int) -> list[LocationSpec]:
    hours = {day: (time(9, 0), time(21, 0)) for day in range(7)}
    return [
        LocationSpec(
            location_id=f"{i:04d}",
            account_id=ACCOUNT_ID,
            shop_id=i,
            time_zone=ZONES[i % len(ZONES)],
            interval_minutes=15 if i % 2 else 60,
            opening_hours=hours,
            label=f"Shop {i}",
        )
        for i in range(1, shops + 1)
    ]


def _copy(cur: psycopg2.extensions.cursor, table: str, columns: str, buffer: io.StringIO) -> None:
    buffer.seek(0)
    cur.copy_expert(f"COPY lightspeed_staging.{table} ({columns}) FROM STDIN", buffer)
    buffer.seek(0)
    buffer.truncate()


def generate(conn: psycopg2.extensions.connection, shops: int, lines: int, days: int) -> dict:
    """COPY synthetic sales, lines and shifts; return how many of each were written."""
    rng = random.Random(42)
    start = END - timedelta(days=days)
    span = int((END - start).total_seconds())
    sales = lines * 2 // 5  # 2.5 lines per sale on average
    sale_buf, line_buf, hours_buf = io.StringIO(), io.StringIO(), io.StringIO()
    line_id = 0
    with conn.cursor() as cur:
        for sale_id in range(1, sales + 1):
            shop = rng.randint(1, shops)
            when = (start + timedelta(seconds=rng.randrange(span))).isoformat()
            refund = rng.random() < 0.05
            voided = rng.random() < 0.02
            sign = -1 if refund else 1
            subtotal = 0
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                line_id += 1
                price = rng.randint(100, 9999) / 100
                qty = sign * rng.randint(1, 3)
                fee = "item_fee" if rng.random() < 0.03 else ""
                subtotal += qty * price
                line_buf.write(
                    f"{ACCOUNT_ID}\t{line_id}\t{sale_id}\t{shop}\t{fee}\t{qty}\t{price:.2f}\t{{}}\tbench\n"
                )
            tax = round(subtotal * 0.0625, 4)
            sale_buf.write(
                f"{ACCOUNT_ID}\t{sale_id}\t{shop}\tt\t{'t' if voided else 'f'}\tf\t{when}\t{when}\t"
                f"{subtotal:.2f}\t0\t{tax:.4f}\t0\t{subtotal + tax:.4f}\t{{}}\tbench\n"
            )
            if sale_id % 100_000 == 0:
                _copy(cur, "sale", _SALE_COLUMNS, sale_buf)
                _copy(cur, "sale_line", _LINE_COLUMNS, line_buf)
        _copy(cur, "sale", _SALE_COLUMNS, sale_buf)
        _copy(cur, "sale_line", _LINE_COLUMNS, line_buf)
        shifts = 0
        for shop in range(1, shops + 1):
            zone = ZoneInfo(ZONES[shop % len(ZONES)])
            for day in range(days):
                local_day = (start + timedelta(days=day)).astimezone(zone).date()
                for _ in range(6):
                    shifts += 1
                    check_in = datetime.combine(
                        local_day,
                        time(rng.randint(7, 15), rng.randint(0, 59), rng.randint(0, 59)),
                        zone,
                    )
                    check_out = check_in + timedelta(seconds=rng.randint(10_800, 30_000))
                    hours_buf.write(
                        f"{ACCOUNT_ID}\t{shifts}\t{shifts % 40}\t{shop}\t{check_in.isoformat()}\t"
                        f"{check_out.isoformat()}\t{END.isoformat()}\t{{}}\tbench\n"
                    )
        _copy(cur, "employee_hours", _HOURS_COLUMNS, hours_buf)
        cur.execute(
            "ANALYZE lightspeed_staging.sale, lightspeed_staging.sale_line, lightspeed_staging.employee_hours"
        )
    conn.commit()
    return {"sales": sales, "sale_lines": line_id, "shifts": shifts}


_SALE_COLUMNS = (
    "account_id, sale_id, shop_id, completed, voided, archived, complete_time, time_stamp, "
    "calc_subtotal, calc_discount, calc_tax1, calc_tax2, calc_total, raw, run_id"
)
_LINE_COLUMNS = (
    "account_id, sale_line_id, sale_id, shop_id, line_type, unit_quantity, unit_price, raw, run_id"
)
_HOURS_COLUMNS = "account_id, employee_hours_id, employee_id, shop_id, check_in, check_out, extracted_at, raw, run_id"


def time_rebuilds(
    conn: psycopg2.extensions.connection,
    locations: list[LocationSpec],
    utc_from: datetime,
    utc_to: datetime,
) -> tuple[float, list[float], int]:
    """Seconds for all shops, per-shop seconds, buckets written."""
    per_shop: list[float] = []
    buckets = 0
    started = clock.perf_counter()
    for spec in locations:
        t0 = clock.perf_counter()
        buckets += rebuild(conn, spec, utc_from, utc_to)["buckets"]
        per_shop.append(clock.perf_counter() - t0)
    return clock.perf_counter() - started, per_shop, buckets


def time_reports(
    conn: psycopg2.extensions.connection, date_from: date, date_to: date
) -> dict[str, float]:
    """Seconds for the Totaling and the Data Export of every shop over a month."""
    seconds: dict[str, float] = {}
    for label, run in (
        ("Totaling", lambda: totaling(conn, date_from, date_to)),
        ("Export hourly", lambda: write_export(conn, io.StringIO(), date_from, date_to)),
        (
            "Export 15min",
            lambda: write_export(conn, io.StringIO(), date_from, date_to, grain="15min"),
        ),
        ("Dashboard", lambda: build_dashboard(conn, date_from, date_to)),
    ):
        t0 = clock.perf_counter()
        result = run()
        seconds[label] = round(clock.perf_counter() - t0, 3)
        size = result.rows if hasattr(result, "rows") else len(result)
        print(
            f"{label:14s} {date_from}..{date_to}, all shops: {seconds[label]:6.2f} s ({size} rows/chars)"
        )
    conn.rollback()
    return seconds


def _rebuild_figures(
    label: str, total: float, per_shop: list[float], buckets: int, shops: int
) -> dict[str, Any]:
    print(
        f"Rebuild {label:36s} x {shops} shops: {total:6.2f} s total, "
        f"median {statistics.median(per_shop) * 1000:6.1f} ms/shop, "
        f"max {max(per_shop) * 1000:6.1f} ms, {buckets} buckets",
        flush=True,
    )
    return {
        "label": label,
        "total_s": round(total, 3),
        "median_ms_per_shop": round(statistics.median(per_shop) * 1000, 1),
        "max_ms_per_shop": round(max(per_shop) * 1000, 1),
        "buckets": buckets,
    }


def main(argv: list[str] | None = None) -> int:
    common.isolate_airflow()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--admin-dsn", default=common.ADMIN_DSN)
    parser.add_argument("--shops", type=int, default=50)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    name = f"ls_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.admin_dsn)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    dsn = args.admin_dsn.rsplit("/", 1)[0] + "/" + name
    conn = psycopg2.connect(dsn)
    figures: dict[str, Any] = {"benchmark": "aggregates_rebuild", "command": common.command_line()}
    try:
        migrate(conn)
        t0 = clock.perf_counter()
        counts = generate(conn, args.shops, args.lines, args.days)
        print(f"Generated {counts} with COPY in {clock.perf_counter() - t0:.1f} s", flush=True)
        figures.update(shops=args.shops, days=args.days, **counts)
        locations = specs(args.shops)
        last_hour = (END - timedelta(hours=5), END - timedelta(hours=4))
        last_day = (END - timedelta(days=1), END - timedelta(seconds=1))
        last_week = (END - timedelta(days=7), END - timedelta(seconds=1))
        rebuilds = {}
        for key, label, (utc_from, utc_to) in (
            ("hour", "one hour (rebuilds its local day)", last_hour),
            ("day", "one day (touches 2 local days)", last_day),
            ("week", "one week", last_week),
        ):
            total, per_shop, buckets = time_rebuilds(conn, locations, utc_from, utc_to)
            rebuilds[key] = _rebuild_figures(label, total, per_shop, buckets, len(locations))
        total, per_shop, buckets = time_rebuilds(
            conn, locations, END - timedelta(days=args.days), last_day[1]
        )
        rebuilds["backfill"] = _rebuild_figures(
            f"all {args.days} days (backfill)", total, per_shop, buckets, len(locations)
        )
        figures["rebuilds"] = rebuilds
        figures["reports_s"] = time_reports(
            conn, END.date() - timedelta(days=30), END.date() - timedelta(days=1)
        )
        check_day = (END - timedelta(days=2)).date()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT (SELECT sum(sales) FROM lightspeed_agg.interval_metrics "
                "        WHERE location_id = '0001' AND local_date = %(day)s), "
                "       (SELECT sum(calc_subtotal - calc_discount) FROM lightspeed_staging.sale "
                "        WHERE shop_id = 1 AND NOT voided "
                "        AND (complete_time AT TIME ZONE 'US/Central')::date = %(day)s)",
                {"day": check_day},
            )
            agg, staged = cur.fetchone()
        figures["check_aggregates_equal_staging"] = agg == staged
        print(
            f"Check shop 0001 on {check_day}: aggregates {agg} = staging {staged}: {agg == staged}"
        )
    finally:
        conn.close()
        if not args.keep:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
