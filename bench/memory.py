"""Peak memory of one shop's extraction: it must not grow with the number of sales.

`extract_entity` streams pages from the hook through the transform into COPY batches of
5,000 rows, so a shop's 100,000 sales should need the same memory as 10,000. Each size
runs in a fresh child process with its own warehouse, reading more days of one busy shop
from the same emulator chain (one shop, sales a day = smallest size / 5): the child
imports everything, notes its resident set, then extracts the shop's sales (with lines and
payments) over HTTP into PostgreSQL and reports its peak resident set (ru_maxrss).

    .venv/bin/python -m bench.memory                      # 10,000 and 100,000 sales
    .venv/bin/python -m bench.memory --sales 2000,8000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench import common

DAYS = 5  # days of sales in the smallest size
FAST_DRIP = 10_000.0  # the bucket is not what this measures


def child(dsn: str, days_back: int) -> int:
    """Extract shop 1's sales; print the memory figures as JSON."""
    import psutil

    from lightspeed import entities
    from lightspeed.db import connect
    from lightspeed.extract import extract_entity
    from lightspeed.hook import LightspeedHook
    from lightspeed.windows import plan_window

    hook = LightspeedHook(common.CONN_ID, warehouse=dsn)
    conn = connect(dsn)
    try:
        window = plan_window(
            conn,
            entities.SALES,
            account_id=hook.account_id,
            shop_id=1,
            server_now=hook.server_now(),
            days_back=days_back,
        )
        conn.commit()
        baseline = psutil.Process().memory_info().rss / 2**20
        started = time.perf_counter()
        result = extract_entity(
            hook, conn, entities.SALES, shop_id=1, window=window, run_id="bench/memory",
            known_shop_ids={1},
        )  # fmt: skip
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    print(
        json.dumps(
            {
                "sales": result.fetched,
                "rows": sum(table["staged"] for table in result.tables.values()),
                "pages": result.pages,
                "seconds": round(seconds, 1),
                "baseline_rss_mib": round(baseline, 1),
                "peak_rss_mib": round(common.peak_rss_mib(), 1),
            }
        ),
        flush=True,
    )
    return 0


def run_size(env_for: Any, sales: int, per_day: int) -> dict[str, Any]:
    """One size: a fresh warehouse, a fresh child extracting `sales / per_day` days."""
    days_back = max(1, round(sales / per_day))
    with common.throwaway_database() as dsn:
        env = common.child_env(**env_for(dsn))
        argv = [sys.executable, "-m", "bench.memory", "--child", dsn, str(days_back)]
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            argv, env=env, cwd=common.REPO, capture_output=True, text=True, timeout=1800
        )
    if done.returncode != 0:
        raise RuntimeError(f"the extraction child failed:\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row.update(target_sales=sales, days=days_back)
    row["growth_mib"] = round(row["peak_rss_mib"] - row["baseline_rss_mib"], 1)
    print(
        f"  {row['sales']:>8,} sales ({row['rows']:,} rows, {row['pages']} pages, "
        f"{days_back} days) in {row['seconds']:6.1f} s: RSS {row['baseline_rss_mib']:.0f} MiB "
        f"after imports, peak {row['peak_rss_mib']:.0f} MiB (+{row['growth_mib']:.0f} MiB)",
        flush=True,
    )
    return row


def main(argv: Sequence[str] | None = None) -> int:
    common.isolate_airflow()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))

    sizes = [int(size) for size in args.sales.split(",") if size.strip()]
    print("Peak RSS of one shop's sales extraction (a fresh process per size)", flush=True)
    # One shop selling `per_day` a day; each size reads as many days as it needs.
    per_day = max(1, min(sizes) // DAYS)
    history = max(1, round(max(sizes) / per_day)) + 1
    with common.emulator(
        shops=1,
        days=history,
        sales_per_day=per_day,
        drip_rate=FAST_DRIP,
        bucket_size=FAST_DRIP * 10,
    ) as url:
        rows = [run_size(lambda dsn: common.authorize(url, dsn), size, per_day) for size in sizes]
    growth = None
    if len(rows) > 1 and rows[0]["peak_rss_mib"]:
        growth = round(rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"], 2)
        scale = rows[-1]["sales"] / max(1, rows[0]["sales"])
        print(f"  {scale:.0f} x the sales, {growth:.2f} x the peak RSS", flush=True)
    common.write_json(
        args.json,
        {
            "benchmark": "memory",
            "command": common.command_line(),
            "sizes": rows,
            "peak_ratio_largest_to_smallest": growth,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
