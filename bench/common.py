"""What every benchmark shares: throwaway databases, the emulator, results files.

Benchmarks write their figures as JSON (`--json PATH`) so `bench.run` can put every figure
of one run side by side in bench/results/results.{md,json}; they print as they go, so a
person running one script alone sees the same numbers.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
ADMIN_DSN = os.environ.get(
    "LIGHTSPEED_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
HTTP_TIMEOUT = 10.0
# A Wednesday afternoon in Boston: every shop has traded for days before it. Pinned and
# frozen, so two runs of a benchmark read exactly the same records.
PINNED_NOW = "2026-03-04T15:07:00+00:00"
CONN_ID = "lightspeed_default"


def isolate_airflow() -> None:
    """Give this process (and its children) a private Airflow home before Airflow is imported:
    a benchmark must neither read nor write the Airflow set-up of the person running it."""
    home = Path(tempfile.gettempdir()) / f"lightspeed-bench-airflow-{os.getuid()}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
    os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)


def dsn_for(database: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


def _admin(statement: sql.Composable) -> None:
    conn = psycopg2.connect(ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def throwaway_database(prefix: str = "ls_bench", *, migrated: bool = True) -> Iterator[str]:
    """A fresh database (migrated warehouse by default), dropped afterwards; yields its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for(name)
    try:
        if migrated:
            from lightspeed.migrate import migrate

            conn = psycopg2.connect(dsn)
            try:
                migrate(conn)
            finally:
                conn.close()
        yield dsn
    finally:
        _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmark's child process: the repo importable as `bench`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env.update(extra)
    return env


@contextmanager
def emulator(
    *,
    shops: int,
    days: int,
    sales_per_day: int = 120,
    drip_rate: float | None = None,
    bucket_size: float | None = None,
    log_dir: Path | None = None,
) -> Iterator[str]:
    """`lightspeed-emulator serve` in its own process (the client's CPU is measured alone);
    yields its URL. The data clock is pinned at PINNED_NOW and frozen."""
    from lightspeed import localenv

    extra: list[str] = ["--token-ttl", "7200"]
    if drip_rate is not None:
        extra += ["--drip-rate", str(drip_rate)]
    if bucket_size is not None:
        extra += ["--bucket-size", str(bucket_size)]
    options = localenv.EmulatorOptions(
        shops=shops,
        days=days,
        now=PINNED_NOW,
        clock_speed=0,
        sales_per_day=sales_per_day,
        control=True,
        extra_args=tuple(extra),
    )
    with localenv.Processes(log_dir or RESULTS_DIR / "logs") as processes:
        yield localenv.start_emulator(processes, options)


def emulator_conn_json(url: str) -> str:
    """`lightspeed_default` pointing at the emulator, as AIRFLOW_CONN_* JSON."""
    from lightspeed import localenv
    from lightspeed_emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    conn = localenv.lightspeed_conn_for_emulator(
        url,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uri="http://127.0.0.1:0/callback",
    )
    return json.dumps(conn)


def authorize(url: str, warehouse_dsn: str) -> dict[str, str]:
    """Authorize `lightspeed_default` against the emulator as its owner, the tokens stored in
    `warehouse_dsn`; returns the environment variables a child process needs."""
    env = {f"AIRFLOW_CONN_{CONN_ID.upper()}": emulator_conn_json(url)}
    os.environ.update(env)
    from lightspeed.authorize import authorize_with_login
    from lightspeed.connection import load_connection

    authorize_with_login(load_connection(CONN_ID), "owner", "owner", warehouse=warehouse_dsn)
    return env


def reset_emulator(url: str) -> None:
    """Empty the buckets and zero the counters, so a case starts as a fresh account would."""
    response = requests.post(
        f"{url}/_emulator/stats/reset", json={"buckets": True}, timeout=HTTP_TIMEOUT
    )
    response.raise_for_status()


def emulator_stats(url: str) -> dict[str, Any]:
    response = requests.get(f"{url}/_emulator/stats", timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return response.json()


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    import psycopg2.extensions

    load1, load5, _ = os.getloadavg()
    conn = psycopg2.connect(ADMIN_DSN)
    try:
        server = conn.server_version
    finally:
        conn.close()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "postgresql": f"{server // 10000}.{server % 10000}",
        "load_average_1m": round(load1, 2),
        "load_average_5m": round(load5, 2),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_json(path: str | os.PathLike[str] | None, data: dict[str, Any]) -> None:
    """Write a benchmark's figures (`--json`); nothing without a path."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def command_line() -> str:
    """The command behind a figure, as a person would type it from the repo root (without
    the `--json` output path, which only says where the figures went)."""
    args = list(sys.argv[1:])
    if "--json" in args:
        index = args.index("--json")
        del args[index : index + 2]
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        program = ["-m", spec.name]
    else:
        script = Path(sys.argv[0]).resolve()
        program = [str(script.relative_to(REPO) if script.is_relative_to(REPO) else script)]
    return " ".join([".venv/bin/python", *program, *args])


class Stopwatch:
    """Wall and CPU seconds of a block: `with Stopwatch() as sw: ...; sw.wall`."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self.wall = self.cpu = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
