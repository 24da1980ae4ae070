"""`lightspeed report totaling|export|dashboard`: the T.M.A.S. reports from the warehouse."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TextIO

import psycopg2.extensions

from lightspeed.db import WAREHOUSE_CONN_ID, connect
from lightspeed.reports import FORMATS, GRAINS, format_totaling, totaling, write_export


def _local_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD (a local business date)"
        ) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="date_from", type=_local_date, required=True, help="first local date"
    )
    parser.add_argument(
        "--to", dest="date_to", type=_local_date, required=True, help="last local date (inclusive)"
    )
    parser.add_argument(
        "--location",
        dest="locations",
        action="extend",
        nargs="+",
        metavar="ID",
        help="T.M.A.S. location id(s), e.g. 0001 (default: all)",
    )
    parser.add_argument(
        "--warehouse",
        default=WAREHOUSE_CONN_ID,
        help="Airflow connection id or PostgreSQL DSN/URL (default: %(default)s)",
    )


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser("report", help="T.M.A.S. reports: totaling, export, dashboard")
    commands = report.add_subparsers(dest="report", required=True, metavar="REPORT")

    total = commands.add_parser("totaling", help="figures and KPIs per location and chain")
    _common(total)
    total.add_argument("--format", choices=FORMATS, default="table")
    total.set_defaults(func=_run_totaling)

    export = commands.add_parser("export", help="the Data Export CSV for T.M.A.S.")
    _common(export)
    export.add_argument("--grain", choices=GRAINS, default="hour")
    export.add_argument("--output", type=Path, metavar="FILE", help="CSV file (default: stdout)")
    export.add_argument(
        "--opening-hours-only",
        action="store_true",
        help="leave out buckets outside opening hours even when they have activity",
    )
    export.set_defaults(func=_run_export)

    dashboard = commands.add_parser("dashboard", help="a self-contained HTML dashboard")
    _common(dashboard)
    dashboard.add_argument(
        "--output",
        type=Path,
        metavar="FILE.html",
        help="HTML file (default: dashboard_FROM_TO.html in the current directory)",
    )
    dashboard.set_defaults(func=_run_dashboard)


@contextmanager
def _warehouse(target: str) -> Iterator[psycopg2.extensions.connection]:
    conn = connect(target)
    try:
        # Reports only read: a read-only session cannot change the warehouse by mistake.
        conn.set_session(readonly=True)
        yield conn
    finally:
        conn.close()


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        yield handle


def _run_totaling(args: argparse.Namespace) -> int:
    with _warehouse(args.warehouse) as conn:
        rows = totaling(conn, args.date_from, args.date_to, args.locations)
    sys.stdout.write(format_totaling(rows, args.format, args.date_from, args.date_to))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    with _warehouse(args.warehouse) as conn, _output(args.output) as out:
        result = write_export(
            conn,
            out,
            args.date_from,
            args.date_to,
            grain=args.grain,
            locations=args.locations,
            opening_hours_only=args.opening_hours_only,
        )
    if result.skipped_locations:
        print(
            f"Warning: skipped hourly (PEARL) location(s) {', '.join(result.skipped_locations)}: "
            "they have no 15-minute data; export them with --grain hour.",
            file=sys.stderr,
        )
    if args.output:
        print(f"Wrote {result.rows} rows to {args.output}", file=sys.stderr)
    return 0


def _run_dashboard(args: argparse.Namespace) -> int:
    from lightspeed.dashboard import build_dashboard

    output = args.output or Path(f"dashboard_{args.date_from}_{args.date_to}.html")
    with _warehouse(args.warehouse) as conn:
        page = build_dashboard(conn, args.date_from, args.date_to, args.locations)
    output.write_text(page, encoding="utf-8")
    print(f"Wrote {output}")
    return 0
