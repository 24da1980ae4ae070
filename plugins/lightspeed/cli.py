"""`lightspeed`: the project's command line. Each subcommand lives in the module that owns it.

Every command module exposes `register_cli(subparsers)`, which adds its parser and sets
`func(args) -> int`. Errors the user can act on (`LightspeedError`) print their message and
exit 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import psycopg2

from lightspeed.errors import LightspeedError

COMMAND_MODULES = (
    "lightspeed.migrate_cli",
    "lightspeed.authorize",
    "lightspeed.shops_cli",
    "lightspeed.reports_cli",
    "lightspeed.traffic_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightspeed",
        description="Lightspeed Retail (R-Series) to T.M.A.S.: authorize, shops, reports.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except LightspeedError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except psycopg2.OperationalError as exc:
        # An unreachable warehouse is the user's to fix: say so instead of a traceback.
        # libpq's message names host, port and user, never the password.
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(
            f"Error: cannot use the PostgreSQL warehouse ({reason}). Check that it runs and "
            "that --warehouse names it (an Airflow connection id or a DSN).",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
