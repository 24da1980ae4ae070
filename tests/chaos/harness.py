"""The fault-injection harness: a shop chain run against the emulator with faults armed,
compared row for row with a fault-free run of the same emulator state.

A `World` is one emulator (seed 42, data clock pinned and frozen), one fresh warehouse and
one Lightspeed connection authorized through the emulator's login form. `World.tick()` runs
every shop DAG once, task by task, with the bodies the DAG's tasks call
(`lightspeed.tasks`), and retries a failed task as Airflow would: errors the product marks
fatal (AirflowFailException) fail the run at once, everything else is retried up to
`defaults.retries` times. The task bodies rather than `dag.test()` because each scenario runs
a dozen DAG runs and Airflow's in-process runner would spend the time budget on its own
start-up and retry delays; tests/security runs the real DAG with `dag.test()`.

The only thing replaced is how the hook waits: `lightspeed.tasks._hook` builds the real
LightspeedHook with a sleep that records instead of waiting and a short read timeout, so a
429 storm or a slow answer costs no real seconds (the style guide's injectable sleep).

`compare(reference, faulted)` counts lost rows (in the reference, missing or different in
the faulted warehouse) and duplicated rows (a natural key twice, or a row the reference does
not have) over the staging tables, the watermarks and the hourly Data Export.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg2

from lightspeed import tasks
from lightspeed.authorize import authorize_with_login
from lightspeed.config import ChainConfig, parse_config
from lightspeed.connection import LightspeedConnection
from lightspeed.hook import LightspeedHook
from lightspeed.reports import write_export
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

log = logging.getLogger(__name__)

# A Wednesday, 10:07 in Boston: shops are open and the last days hold plenty of sales.
PINNED_NOW = datetime(2026, 3, 4, 15, 7, tzinfo=UTC)
# Big enough that the real leaky bucket never refuses: 429s come from the faults only.
FAST_BUCKET = {"bucket_size": 5000.0, "drip_rate": 1000.0}
# Reads longer than this time out: `slow` faults last longer.
READ_TIMEOUT = 0.5
SLOW_SECONDS = 1.0

CHAIN: dict[str, Any] = {
    "connection": "chaos_default",
    "warehouse": "lightspeed_warehouse",
    "defaults": {"initial_days": 1, "lookback_hours": 48, "retries": 3},
    "shops": [
        {
            "shop_id": 1,
            "sensor": "pearl",
            "time_zone": "US/Eastern",
            "label": "Boston Downtown",
            "opening_hours": {"mon-sat": "09:00-21:00", "sun": "11:00-18:00"},
        },
        {
            "shop_id": 2,
            "sensor": "3d_scope",
            "time_zone": "America/Phoenix",
            "label": "Phoenix Desert Ridge",
        },
    ],
}

# (data-clock seconds to advance before the tick, Run now's "Days back"): a first import of
# two days, then two hourly incremental runs.
SCHEDULE: tuple[tuple[int, int], ...] = ((0, 2), (3600, 0), (3600, 0))

# Shop-scoped staging tables and what may legitimately differ between two correct runs.
COMPARED_TABLES = ("sale", "sale_line", "sale_payment", "employee_hours", "quarantine", "watermark")
VOLATILE_COLUMNS = ("loaded_at", "run_id", "extracted_at", "updated_at", "quarantined_at", "id")
IMPORTS = ("SALES", "EMPLOYEE_HOURS")


class RecordingSleep:
    """The hook's sleep: records the seconds it would have waited, waits none."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.seconds += max(0.0, seconds)
            self.calls += 1


# conn id -> sleep of the world it belongs to (worlds may run side by side in one process).
_SLEEPS: dict[str, RecordingSleep] = {}
_real_hook = tasks._hook


def _fast_hook(conn_id: str) -> LightspeedHook:
    sleep = _SLEEPS.get(conn_id)
    if sleep is None:
        return _real_hook(conn_id)
    return LightspeedHook(lightspeed_conn_id=conn_id, sleep=sleep, timeout=(5.0, READ_TIMEOUT))


def install_fast_hook() -> None:
    """Route `lightspeed.tasks._hook` through `_fast_hook` (idempotent; undone by pytest)."""
    tasks._hook = _fast_hook  # type: ignore[assignment]


def uninstall_fast_hook() -> None:
    tasks._hook = _real_hook  # type: ignore[assignment]


@dataclass
class TaskAttempt:
    task: str
    shop: str
    outcome: str  # "success", "retry" or "failed"
    error: str = ""


@dataclass
class RunRecord:
    """One shop DAG run: its key, state and every task attempt."""

    shop: str
    run_key: str
    state: str = "running"
    attempts: list[TaskAttempt] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0

    @property
    def retries(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "retry")

    @property
    def failure(self) -> str:
        return next((a.error for a in self.attempts if a.outcome == "failed"), "")


class RunFailed(Exception):
    """A task failed for good: the DAG run stops (downstream tasks are upstream_failed)."""


def chain_config(overrides: dict[str, Any] | None = None) -> ChainConfig:
    document = json.loads(json.dumps(CHAIN))
    document["defaults"].update(overrides or {})
    return parse_config(document, source="<chaos chain>")


class World:
    """An emulator, a warehouse and an authorized connection; runs the shop DAGs on demand.

    Args:
        name: scenario name (also the connection id's suffix).
        warehouse_dsn: a fresh, migrated warehouse (the conftest fixture).
        env: where to put `AIRFLOW_CONN_<ID>` (pytest's monkeypatch.setenv).
        secret: the OAuth client secret the emulator and connection use.
        defaults: chain config defaults to override (e.g. retries).
        emulator_options: EmulatorConfig fields to override.

    Faults are armed with `arm()` after `__enter__` has authorized, so the login is clean.
    """

    def __init__(
        self,
        name: str,
        warehouse_dsn: str,
        env: Callable[[str, str], None],
        *,
        secret: str | None = None,
        defaults: dict[str, Any] | None = None,
        emulator_options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.dsn = warehouse_dsn
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:30]
        self.conn_id = f"chaos_{slug}_{uuid.uuid4().hex[:6]}"
        self.secret = secret or f"chaos-secret-{uuid.uuid4().hex}"
        self.config = chain_config(defaults)
        self.sleep = RecordingSleep()
        self.runs: list[RunRecord] = []
        # Faults the harness causes itself (a revocation, a killed session or worker, an
        # overlapping run); the emulator counts the HTTP ones.
        self.injected = 0
        self._env = env
        options = {
            "seed": 42,
            "shops": 3,
            "days": 5,
            "now": PINNED_NOW,
            "clock_speed": 0,
            "control": True,
            "client_secret": self.secret,
            **FAST_BUCKET,
            **(emulator_options or {}),
        }
        self.emulator = EmulatorServer(EmulatorConfig(**options))
        self._tick = 0

    # -- set-up ----------------------------------------------------------------------------

    def __enter__(self) -> World:
        self.emulator.start()
        url = self.emulator.url
        self._env(
            f"AIRFLOW_CONN_{self.conn_id.upper()}",
            json.dumps(
                {
                    "conn_type": "lightspeed",
                    "login": self.emulator.config.client_id,
                    "password": self.secret,
                    "host": url,
                    "extra": {
                        "oauth_base_url": url,
                        "redirect_uri": "http://127.0.0.1:0/callback",
                        "token_store_conn_id": self.dsn,
                    },
                }
            ),
        )
        _SLEEPS[self.conn_id] = self.sleep
        self.authorize()
        return self

    def __exit__(self, *exc: object) -> None:
        _SLEEPS.pop(self.conn_id, None)
        self.emulator.stop()

    @property
    def connection(self) -> LightspeedConnection:
        url = self.emulator.url
        return LightspeedConnection(
            conn_id=self.conn_id,
            client_id=self.emulator.config.client_id,
            client_secret=self.secret,
            api_base_url=url,
            oauth_base_url=url,
            redirect_uri="http://127.0.0.1:0/callback",
            token_store_conn_id=self.dsn,
        )

    def authorize(self) -> None:
        """`lightspeed authorize` as the account owner (the browser's forms are scripted)."""
        authorize_with_login(
            self.connection,
            "owner",
            "owner",
            warehouse=self.dsn,
            hook_options={"sleep": self.sleep},
        )

    def arm(self, *specs: str) -> None:
        self.emulator.faults.add(list(specs))

    @property
    def faults_fired(self) -> int:
        return sum(self.emulator.faults.fired_counts().values()) + self.injected

    # -- running ---------------------------------------------------------------------------

    def targets(self) -> list[tasks.ShopTarget]:
        account = self.config.accounts[0]
        return [
            tasks.ShopTarget(self.conn_id, self.dsn, shop, self.config.defaults)
            for shop in account.shops
        ]

    def advance(self, seconds: int) -> None:
        if seconds:
            self.emulator.clock.advance(seconds)

    def tick(self, days_back: int, *, skip: Sequence[str] = ()) -> list[RunRecord]:
        """One scheduler tick: every shop DAG runs once (in shop order)."""
        self._tick += 1
        records = []
        for target in self.targets():
            if target.shop.location_id in skip:
                continue
            records.append(self.run_shop(target, days_back))
        return records

    def run_schedule(
        self,
        schedule: Sequence[tuple[int, int]] = SCHEDULE,
        before_tick: Callable[[int], None] | None = None,
    ) -> None:
        for index, (advance, days_back) in enumerate(schedule):
            self.advance(advance)
            if before_tick is not None:
                before_tick(index)
            self.tick(days_back)

    def run_shop(
        self,
        target: tasks.ShopTarget,
        days_back: int,
        *,
        run_id: str | None = None,
        import_step: Callable[[tasks.ShopTarget, str, dict, RunRecord], dict] | None = None,
    ) -> RunRecord:
        """One shop DAG run: plan >> imports >> rebuild_aggregates >> check, with retries."""
        shop = target.shop
        run_id = run_id or f"manual__chaos_{self._tick}_{uuid.uuid4().hex[:8]}"
        run = SimpleNamespace(run_type="manual", run_id=run_id, dag_id=shop.dag_id)
        facts = tasks.run_facts(
            {"dag_run": run, "params": {"days_back": days_back}}, shop.interval_minutes
        )
        record = RunRecord(shop.location_id, facts.run_key)
        self.runs.append(record)
        try:
            plan = self._attempt(record, "plan", lambda: tasks.plan_shop(target, facts))
            results = []
            for name in IMPORTS:
                if import_step is not None:
                    results.append(import_step(target, name, plan, record))
                else:
                    results.append(self.import_entity(target, name, plan, record))
            rebuilt = self._attempt(
                record,
                "rebuild_aggregates",
                lambda: tasks.rebuild_shop_aggregates(target, plan, results),
            )
            self._attempt(
                record, "check", lambda: tasks.check_shop_run(target, plan, results, rebuilt)
            )
        except RunFailed:
            record.state = "failed"
        else:
            record.state = "success"
        record.finished = time.monotonic()
        return record

    def import_entity(
        self, target: tasks.ShopTarget, name: str, plan: dict, record: RunRecord
    ) -> dict:
        return self._attempt(
            record,
            f"import_{name.lower()}",
            lambda: tasks.import_shop_entity(target, name, plan),
        )

    def _attempt(self, record: RunRecord, task: str, body: Callable[[], Any]) -> Any:
        """Run a task body with Airflow's retry semantics (fatal errors are not retried)."""
        from airflow.sdk.exceptions import AirflowFailException

        tries = 1 + self.config.defaults.retries
        for attempt in range(1, tries + 1):
            try:
                value = body()
            except AirflowFailException as exc:
                record.attempts.append(TaskAttempt(task, record.shop, "failed", str(exc)))
                raise RunFailed(str(exc)) from exc
            except Exception as exc:  # what Airflow retries: anything not marked fatal
                final = attempt == tries
                outcome = "failed" if final else "retry"
                error = f"{type(exc).__name__}: {exc}"
                record.attempts.append(TaskAttempt(task, record.shop, outcome, error))
                log.info("%s %s attempt %d: %s", record.run_key, task, attempt, error)
                if final:
                    raise RunFailed(error) from exc
                continue
            record.attempts.append(TaskAttempt(task, record.shop, "success"))
            return value
        raise AssertionError("unreachable")

    # -- observing -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return take_snapshot(self.dsn)


@dataclass
class Snapshot:
    """Rows by table and natural key (volatile columns left out), plus the Data Export."""

    tables: dict[str, list[tuple[tuple, str]]]
    export: list[tuple[tuple, str]]

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.tables.values()) + len(self.export)


_KEYS = {
    "sale": ("account_id", "sale_id"),
    "sale_line": ("account_id", "sale_line_id"),
    "sale_payment": ("account_id", "sale_payment_id"),
    "employee_hours": ("account_id", "employee_hours_id"),
    "quarantine": ("entity", "record_key", "reason"),
    "watermark": ("account_id", "entity", "shop_id"),
}


def take_snapshot(dsn: str) -> Snapshot:
    conn = psycopg2.connect(dsn)
    try:
        tables = {name: _table_rows(conn, name) for name in COMPARED_TABLES}
        export = _export_rows(conn)
    finally:
        conn.close()
    return Snapshot(tables, export)


def _table_rows(conn: Any, table: str) -> list[tuple[tuple, str]]:
    keys = ", ".join(_KEYS[table])
    drop = " ".join(f"- '{column}'" for column in VOLATILE_COLUMNS)
    # A record rejected again by a later run is quarantined again: compare the distinct set.
    distinct = "DISTINCT " if table == "quarantine" else ""
    with conn.cursor() as cur:
        # Identifiers are this module's constants; nothing here comes from outside.
        cur.execute(
            f"SELECT {distinct}{keys}, (to_jsonb(t) {drop})::text "
            f"FROM lightspeed_staging.{table} t ORDER BY {keys}"
        )
        return [(tuple(row[:-1]), row[-1]) for row in cur.fetchall()]


def export_dates() -> tuple[date, date]:
    """Local dates the schedule can touch: the two days back to the day after the last tick."""
    return (PINNED_NOW - timedelta(days=3)).date(), (PINNED_NOW + timedelta(days=1)).date()


def _export_rows(conn: Any) -> list[tuple[tuple, str]]:
    out = io.StringIO()
    date_from, date_to = export_dates()
    write_export(conn, out, date_from, date_to, grain="hour")
    lines = out.getvalue().splitlines()
    assert lines and lines[0].startswith("Location ID,"), lines[:1]
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        rows.append(((cells[0], cells[1], cells[2]), line))
    return rows


@dataclass
class Comparison:
    compared: int
    lost: int
    duplicated: int
    changed: int
    examples: list[str]

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def compare(reference: Snapshot, faulted: Snapshot) -> Comparison:
    """Lost: reference rows missing (or different) in the faulted run. Duplicated: a key seen
    twice, or a row the reference does not have. Changed rows count as lost."""
    lost = duplicated = changed = compared = 0
    examples: list[str] = []
    pairs = [(name, reference.tables[name], faulted.tables[name]) for name in reference.tables]
    pairs.append(("data_export", reference.export, faulted.export))
    for name, ref_rows, got_rows in pairs:
        compared += len(ref_rows)
        counts = Counter(key for key, _ in got_rows)
        got = {key: value for key, value in got_rows}
        doubled = sum(n - 1 for n in counts.values() if n > 1)
        ref = {key: value for key, value in ref_rows}
        extra = [key for key in got if key not in ref]
        missing = [key for key in ref if key not in got]
        differing = [key for key in ref if key in got and got[key] != ref[key]]
        lost += len(missing) + len(differing)
        changed += len(differing)
        duplicated += doubled + len(extra)
        for label, keys in (("missing", missing), ("extra", extra), ("differs", differing)):
            for key in keys[:2]:
                detail = f"{name} {label} {key}"
                if label == "differs":
                    detail += f": {ref[key][:200]} != {got[key][:200]}"
                examples.append(detail)
    return Comparison(compared, lost, duplicated, changed, examples[:6])


@dataclass
class Outcome:
    """One scenario's line of the summary table."""

    scenario: str
    faults: int
    runs: int
    failed_runs: int
    retries: int
    compared: int
    lost: int
    duplicated: int
    note: str = ""

    @classmethod
    def of(cls, scenario: str, world: World, comparison: Comparison, note: str = "") -> Outcome:
        return cls(
            scenario=scenario,
            faults=world.faults_fired,
            runs=len(world.runs),
            failed_runs=sum(1 for r in world.runs if r.state != "success"),
            retries=sum(r.retries for r in world.runs),
            compared=comparison.compared,
            lost=comparison.lost,
            duplicated=comparison.duplicated,
            note=note,
        )


@contextmanager
def backend_killer(dsn: str, *, when: Callable[[Any], Sequence[int]]) -> Iterator[list[int]]:
    """A side thread that terminates the backends `when(cursor)` names, once, as soon as any."""
    killed: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                while not stop.is_set() and not killed:
                    pids = list(when(cur))
                    for pid in pids:
                        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
                        killed.append(pid)
                    stop.wait(0.01)
        finally:
            admin.close()

    thread = threading.Thread(target=watch, name="chaos-backend-killer", daemon=True)
    thread.start()
    try:
        yield killed
    finally:
        stop.set()
        thread.join(timeout=10)


def extracting_backends(cur: Any) -> list[int]:
    """Sessions of this database inside an extraction: they hold the extract advisory lock
    and wait for the API with an open transaction."""
    cur.execute(
        "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
        "AND a.state = 'idle in transaction' AND a.pid <> pg_backend_pid()"
    )
    return [row[0] for row in cur.fetchall()]


def env_for_child() -> dict[str, str]:
    """A worker's environment: this process's, which holds the test's AIRFLOW_CONN_* vars."""
    return dict(os.environ)
