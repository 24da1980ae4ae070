"""`lightspeed migrate`: bring the warehouse schema up to date (the DAGs do this too)."""

from __future__ import annotations

import argparse

from lightspeed.db import WAREHOUSE_CONN_ID, connect
from lightspeed.migrate import migrate


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply pending warehouse migrations")
    parser.add_argument(
        "--warehouse",
        default=WAREHOUSE_CONN_ID,
        help="Airflow connection id or PostgreSQL DSN/URL (default: %(default)s)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    conn = connect(args.warehouse)
    try:
        applied = migrate(conn)
    finally:
        conn.close()
    print(
        f"Applied migrations: {', '.join(f'V{v:03d}' for v in applied)}"
        if applied
        else "Up to date."
    )
    return 0
