"""`lightspeed traffic load FILE.csv`: load people-counter counts for the traffic KPIs."""

from __future__ import annotations

import argparse
from pathlib import Path

from lightspeed.db import WAREHOUSE_CONN_ID, connect
from lightspeed.traffic import HEADER, load_traffic


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    traffic = subparsers.add_parser("traffic", help="people-counter traffic")
    commands = traffic.add_subparsers(dest="traffic", required=True, metavar="ACTION")
    load = commands.add_parser(
        "load",
        help="load a counter CSV (upsert; loading twice changes nothing)",
        description=f"CSV header: {','.join(HEADER)}; Date/Time = local start of the interval, "
        "at the location's grain (15 minutes for 3D Scope, hourly for PEARL).",
    )
    load.add_argument("file", type=Path, metavar="FILE.csv")
    load.add_argument(
        "--warehouse",
        default=WAREHOUSE_CONN_ID,
        help="Airflow connection id or PostgreSQL DSN/URL (default: %(default)s)",
    )
    load.set_defaults(func=_run_load)


def _run_load(args: argparse.Namespace) -> int:
    conn = connect(args.warehouse)
    try:
        counts = load_traffic(conn, args.file)
    finally:
        conn.close()
    print(
        f"Loaded {counts['rows']} traffic rows from {args.file}: {counts['inserted']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged."
    )
    return 0
