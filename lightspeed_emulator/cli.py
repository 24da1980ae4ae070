"""`lightspeed-emulator serve`: run the Lightspeed R-Series emulator until interrupted.

When the server is ready it prints exactly one line to stdout,
`Lightspeed emulator listening on http://127.0.0.1:PORT`, so scripts started with
`--port 0` can read the chosen port.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.faults import FaultSpecError

READY_LINE = "Lightspeed emulator listening on {url}"


def _iso_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not ISO-8601; write e.g. 2026-03-02T09:00:00+00:00"
        ) from None
    # A bare date-time is read as UTC: the emulator stores every time in UTC, as Lightspeed does.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightspeed-emulator", description="A local Lightspeed Retail (R-Series) API emulator."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the OAuth server and the API on one port")
    serve.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--seed", type=int, default=42, help="seed of the generated data and faults")
    serve.add_argument("--shops", type=int, default=3)
    serve.add_argument("--days", type=int, default=7, help="days of history before --now")
    serve.add_argument("--sales-per-day", type=int, default=120, help="average per shop per day")
    serve.add_argument(
        "--now", type=_iso_datetime, help="data-clock start, ISO-8601 (default: now)"
    )
    serve.add_argument(
        "--clock-speed", type=float, default=1.0, help="data s per real s; 0 freezes"
    )
    serve.add_argument("--registers", type=int, default=1, help="register limit: sizes the bucket")
    serve.add_argument("--bucket-size", type=float, help="default 90 + 10 x (registers - 1)")
    serve.add_argument(
        "--drip-rate", type=float, help="per second; default 1 + 0.5 x (registers - 1)"
    )
    serve.add_argument("--token-ttl", type=int, default=3600, help="access-token lifetime, seconds")
    serve.add_argument(
        "--code-ttl", type=int, default=60, help="authorization-code lifetime, seconds"
    )
    serve.add_argument("--redirect-uri", help="the demo client's registered callback URL")
    serve.add_argument(
        "--refresh-limit", type=int, default=5, help="refresh attempts per connection per minute"
    )
    serve.add_argument("--control", action="store_true", help="enable the /_emulator/* endpoints")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="e.g. 5xx:rate=0.2 (repeatable)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        shops=args.shops,
        days=args.days,
        sales_per_day=args.sales_per_day,
        now=args.now,
        clock_speed=args.clock_speed,
        registers=args.registers,
        bucket_size=args.bucket_size,
        drip_rate=args.drip_rate,
        token_ttl=args.token_ttl,
        code_ttl=args.code_ttl,
        refresh_limit_per_minute=args.refresh_limit,
        control=args.control,
        faults=list(args.fault),
    )
    if args.redirect_uri:
        config.redirect_uri = args.redirect_uri
    return config


def serve(config: EmulatorConfig, log_level: str) -> int:
    from lightspeed_emulator.server import EmulatorServer

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        server = EmulatorServer(config, log_level=log_level)
    except FaultSpecError as error:
        print(f"lightspeed-emulator: bad --fault: {error}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as error:
        print(
            f"lightspeed-emulator: cannot listen on {config.host}:{config.port} ({error}); "
            "pick another --port, or 0 for a free one.",
            file=sys.stderr,
        )
        return 1
    try:
        print(READY_LINE.format(url=server.url), flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return serve(config_from_args(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
