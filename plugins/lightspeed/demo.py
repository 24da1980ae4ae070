"""`make demo` / `make airflow`: the whole product on a fresh machine, against the emulator.

`python -m lightspeed.demo` (env SEED, SHOPS, DAYS, NOW) sets everything up in `.demo/`
(PostgreSQL, the warehouse, the emulator, an Airflow home), authorizes as the emulator's
account owner through the real OAuth flow, writes the chain config with `lightspeed shops`'
code, runs every DAG through Airflow for the first import (Run now, days_back=DAYS), moves
the API's clock on an hour and runs the incremental import, loads synthetic people-counter
files, and prints the Totaling report (plus the Data Export CSV and dashboard under
`.demo/out/`).

`python -m lightspeed.demo --ui` does the same set-up and then serves the Airflow UI
(api-server, scheduler, dag-processor) on a free port until Ctrl-C.

The DAGs run with `dag.test()` (what `airflow dags test` does) in one child process per
phase, its log under .demo/logs/: the real DAG file, parser, task code and metadata DB,
without a scheduler's heartbeats, and paying Airflow's start-up once rather than per DAG,
so a 3-shop demo takes 35-90 s on 2 cores. The UI mode and
tests/e2e/test_celery_executor.py run the same DAGs under a scheduler and an executor.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests
import yaml

from lightspeed import localenv
from lightspeed.config import AccountConfig, ShopConfig, load_config
from lightspeed.connection import DEFAULT_CONN_ID, LightspeedConnection
from lightspeed.errors import LightspeedError

WAREHOUSE_DB = "lightspeed_demo"
AIRFLOW_DB = "lightspeed_demo_airflow"
DEMO_USER = ("owner", "owner")  # the emulator's account owner (docs/emulator.md)
SENSORS = ("pearl", "3d_scope")  # alternated over the shops so both grains appear
INCREMENT = timedelta(hours=1)
TOTAL_STEPS = 10
UI_STEPS = 7


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 42
    shops: int = 3
    days: int = 3
    now: str | None = None
    root: Path = localenv.DEFAULT_ROOT
    fresh: bool = False
    ui: bool = False
    parallel: int = 1  # DAG runner processes (each runs its share of the DAGs in turn)

    @property
    def out_dir(self) -> Path:
        return self.root / "out"


@dataclass
class DemoState:
    """What the steps hand each other."""

    pg_admin_dsn: str = ""
    warehouse_dsn: str = ""
    emulator_url: str = ""
    connection: LightspeedConnection | None = None
    settings: localenv.AirflowSettings | None = None
    env: dict[str, str] = field(default_factory=dict)
    shops: tuple[ShopConfig, ...] = ()  # the enabled shops of the demo's chain config
    account_dag_id: str = ""
    processes: localenv.Processes | None = None
    last_clock: str | None = None  # the data clock the last demo ended on (same warehouse)
    own_postgres: bool = False  # started by the demo (stops with it)


# --------------------------------------------------------------------------- progress


class Progress:
    """Numbered steps with their timings, flushed as they happen."""

    def __init__(self, total: int, write: Callable[[str], None] | None = None) -> None:
        self.total = total
        self.number = 0
        self.started = time.monotonic()
        self._write = write or (lambda text: print(text, flush=True))

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self._write(f"[{self.number}/{self.total}] {title}")
        began = time.monotonic()
        try:
            yield
        except BaseException:
            self._write(f"      failed after {time.monotonic() - began:.1f} s")
            raise
        self._write(f"      ok ({time.monotonic() - began:.1f} s)")

    def note(self, text: str) -> None:
        for line in text.splitlines():
            self._write(f"      {line}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# --------------------------------------------------------------------------- set-up steps


def setup_postgres(
    state: DemoState, options: DemoOptions, processes: localenv.Processes, progress: Progress
) -> None:
    with progress.step("PostgreSQL"):
        state.pg_admin_dsn = localenv.ensure_postgres(options.root / "pg", processes)
        started = any(child.name == "postgres" for child in processes.children)
        state.own_postgres = started
        where = state.pg_admin_dsn.split("@", 1)[1].rsplit("/", 1)[0]
        progress.note(
            f"started from the system's binaries in {options.root / 'pg'} on {where}"
            if started
            else f"using the server on {where}"
        )


def setup_warehouse(state: DemoState, options: DemoOptions, progress: Progress) -> None:
    with progress.step(f"Warehouse database {WAREHOUSE_DB}"):
        saved = _read_marker(options)
        dataset = {"seed": options.seed, "shops": options.shops}
        previous = {key: saved[key] for key in dataset if key in saved} or None
        # Same seed and shops: the emulator serves the same records, so re-running converges on
        # the kept data. Another chain would leave the old one's rows behind: start over.
        recreate = options.fresh or (previous is not None and previous != dataset)
        state.warehouse_dsn = localenv.ensure_database(
            state.pg_admin_dsn, WAREHOUSE_DB, recreate=recreate
        )
        applied = localenv.migrate_warehouse(state.warehouse_dsn)
        state.last_clock = None if recreate else saved.get("clock")
        _write_marker(options, {**dataset, "clock": state.last_clock})
        if recreate:
            why = "--fresh" if options.fresh else f"the chain changed from {previous}"
            progress.note(f"recreated ({why})")
        progress.note(
            f"applied migrations {', '.join(f'V{v:03d}' for v in applied)}"
            if applied
            else "schema up to date"
        )


def _read_marker(options: DemoOptions) -> dict[str, Any]:
    path = options.root / "warehouse.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write_marker(options: DemoOptions, values: dict[str, Any]) -> None:
    options.root.mkdir(parents=True, exist_ok=True)
    (options.root / "warehouse.json").write_text(json.dumps(values))


def setup_emulator(
    state: DemoState, options: DemoOptions, processes: localenv.Processes, progress: Progress
) -> None:
    with progress.step("Lightspeed emulator"):
        now, origin = options.now, "pinned by NOW"
        if now is None and options.ui and state.last_clock:
            # The warehouse's watermarks are on the last demo's clock: continue from there, or
            # the first scheduled run would reach from that clock to today's.
            now, origin = state.last_clock, "continuing the last `make demo`"
        emulator = localenv.EmulatorOptions(
            seed=options.seed,
            shops=options.shops,
            # One day more than the import reads, so the first day of the window is complete.
            days=options.days + 1,
            now=now,
            # A pinned clock stands still, so a replay reads exactly the same records; the UI
            # keeps it running so the schedules find new sales.
            clock_speed=0.0 if now and not options.ui else 1.0,
        )
        state.emulator_url = localenv.start_emulator(processes, emulator)
        progress.note(
            f"{state.emulator_url}: seed {options.seed}, {options.shops} shops, "
            f"data clock {api_now(state.emulator_url).isoformat()} "
            f"({origin if now else 'real time'}"
            + (", frozen" if emulator.clock_speed == 0 else "")
            + ")"
        )


def setup_airflow(state: DemoState, options: DemoOptions, progress: Progress) -> None:
    from lightspeed_emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    with progress.step("Airflow home"):
        home = options.root / "airflow"
        metadata = localenv.ensure_database(state.pg_admin_dsn, AIRFLOW_DB)
        conn_json = localenv.lightspeed_conn_for_emulator(
            state.emulator_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET
        )
        state.connection = LightspeedConnection(
            conn_id=DEFAULT_CONN_ID,
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            api_base_url=state.emulator_url,
            oauth_base_url=state.emulator_url,
        )
        state.settings = localenv.AirflowSettings(
            home=home,
            metadata_dsn=metadata,
            api_port=localenv.free_port(),
            shops_config=options.root / "shops.yaml",
            warehouse_dsn=state.warehouse_dsn,
            lightspeed_conn=conn_json,
        )
        state.env = localenv.airflow_env(state.settings)
        pool = AccountConfig(DEFAULT_CONN_ID, ()).pool
        localenv.prepare_airflow(state.settings, state.env, [pool])
        progress.note(
            f"AIRFLOW_HOME={home}; metadata in PostgreSQL database {AIRFLOW_DB}; "
            f"connections {DEFAULT_CONN_ID} and lightspeed_warehouse as AIRFLOW_CONN_* JSON; "
            f"pool {pool} ({localenv.POOL_SLOTS} slots)"
        )


def authorize_owner(state: DemoState, progress: Progress) -> None:
    """`lightspeed authorize`'s flow (callback, state, code exchange, scopes, token store), with
    the emulator's login and consent forms submitted by a script instead of a browser."""
    from lightspeed.authorize import authorize_with_login

    assert state.connection is not None
    with progress.step("Authorize as the demo account owner (OAuth authorization-code flow)"):
        result = authorize_with_login(state.connection, *DEMO_USER, warehouse=state.warehouse_dsn)
        progress.note(
            f"account {result.account_name} (ID {result.account_id}), {len(result.shops)} shops; "
            "tokens stored encrypted in lightspeed_auth.token_set"
        )


def write_shop_config(state: DemoState, options: DemoOptions, progress: Progress) -> None:
    with progress.step(
        f"Chain config {options.root / 'shops.yaml'} (as `lightspeed shops` writes it)"
    ):
        text = demo_chain_config(state)
        path = options.root / "shops.yaml"
        path.write_text(text)
        config = load_config(path)
        account = config.accounts[0]
        state.account_dag_id = account.dag_id
        state.shops = account.enabled_shops
        for shop in state.shops:
            progress.note(f"{shop.dag_id}: {shop.sensor}, {shop.time_zone}, {shop.label or ''}")


def demo_chain_config(state: DemoState) -> str:
    """`lightspeed shops`' config for the account's shops, sensors alternated, hours added.

    The API does not know a shop's counter or opening hours; a user reviews them by hand.
    The demo takes the hours from the emulator's shop profiles, so the reports' opening-hours
    buckets match when the simulated shops actually trade.
    """
    from lightspeed.hook import LightspeedHook
    from lightspeed.shops_cli import render_config
    from lightspeed.token_store import TokenStore

    assert state.connection is not None
    store = TokenStore.for_connection(state.connection, state.warehouse_dsn)
    hook = LightspeedHook(connection=state.connection, token_store=store)
    document = yaml.safe_load(render_config(hook.get_shops(include_archived=True)))
    for index, shop in enumerate(document["shops"]):
        shop["sensor"] = SENSORS[index % len(SENSORS)]
        shop["opening_hours"] = emulator_opening_hours(shop["shop_id"])
    header = (
        "# Demo chain config: written by `make demo` from the emulator's shops with\n"
        "# `lightspeed shops`' code; sensors alternate pearl / 3d_scope, opening hours come\n"
        "# from the emulator's shop profiles.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False)


def emulator_opening_hours(shop_id: int) -> dict[str, str]:
    """The hours the emulator's shop trades (its profile depends on the shop ID only)."""
    from lightspeed_emulator.generator import Chain

    profile = Chain(seed=0, shops=shop_id, sales_per_day=0).shop(shop_id)
    week = f"{profile.opens:02d}:00-{profile.closes:02d}:00"
    sunday = (
        f"{profile.sunday[0]:02d}:00-{profile.sunday[1]:02d}:00" if profile.sunday else "closed"
    )
    return {"mon-sat": week, "sun": sunday}


# --------------------------------------------------------------------------- imports


@dataclass(frozen=True)
class RunSummary:
    dag_id: str
    seconds: float
    counts: dict[str, tuple[int, int]]  # entity -> (fetched, upserted)

    def describe(self) -> str:
        counts = ", ".join(
            f"{entity} {fetched} fetched/{upserted} upserted"
            for entity, (fetched, upserted) in sorted(self.counts.items())
        )
        return f"{self.dag_id}: success in {self.seconds:.1f} s" + (
            f" ({counts})" if counts else ""
        )


def run_dags(
    state: DemoState,
    options: DemoOptions,
    jobs: Sequence[tuple[str, dict[str, Any] | None]],
    label: str,
    progress: Progress,
) -> None:
    """Run DAGs with `dag.test()` in child processes (`options.parallel` of them); report each.

    One child runs its share of the DAGs one after the other, so Airflow's import and its
    in-process execution API start once per child, not once per DAG (an `airflow dags test`
    per DAG spends ~30 s of a ~35 s run on that). Children belong to `processes`, so Ctrl-C
    stops them with everything else.
    """
    processes = state.processes
    assert processes is not None
    before = _last_load_log_id(state.warehouse_dsn)
    workers = max(1, min(options.parallel, len(jobs)))
    runners = []
    for number in range(workers):
        share = [{"dag_id": dag_id, "conf": conf} for dag_id, conf in jobs[number::workers]]
        jobs_file = options.root / "logs" / f"dag_runs.{label}.{number}.json"
        results_file = jobs_file.with_suffix(".results")
        jobs_file.write_text(json.dumps(share))
        results_file.write_text("")
        argv = [sys.executable, "-m", "lightspeed.demo", "--dag-runner", str(jobs_file)]
        child = processes.start(f"dag_runs.{label}.{number}", argv, env=state.env)
        runners.append((child, results_file, len(share)))
    reported = 0
    while reported < len(jobs):
        time.sleep(0.3)
        results = [
            json.loads(line) for _, path, _ in runners for line in path.read_text().splitlines()
        ]
        for result in results[reported:]:
            _check_result(result, runners)
            counts = _load_counts(state.warehouse_dsn, result["dag_id"], before)
            progress.note(RunSummary(result["dag_id"], result["seconds"], counts).describe())
        reported = len(results)
        for child, path, expected in runners:
            done = len(path.read_text().splitlines())
            if not child.alive() and done < expected:
                raise localenv.LocalEnvError(
                    f"The DAG runner {child.name} stopped (exit {child.process.returncode}) "
                    f"after {done} of {expected} runs; its log ({child.log_path}) ends with:\n"
                    f"{child.log_tail(25)}"
                )
    for child, _, _ in runners:
        processes.stop(child)


def _check_result(result: dict[str, Any], runners: list) -> None:
    if result["state"] == "success":
        return
    logs = ", ".join(str(child.log_path) for child, _, _ in runners)
    raise localenv.LocalEnvError(
        f"DAG {result['dag_id']} ended {result['state']}: {result.get('error') or 'a task failed'}. "
        f"Task logs: {logs} and .demo/airflow/logs/dag_id={result['dag_id']}/"
    )


def dag_runner(jobs_file: Path) -> int:
    """Child process: `dag.test()` each job in order; one JSON line per run in `<jobs>.results`.

    The DAG file, the parser and the task code are Airflow's own; only the scheduler's loop is
    replaced by dag.test(), which runs the tasks in this process.
    """
    from airflow.dag_processing.dagbag import DagBag

    results = jobs_file.with_suffix(".results")
    for job in json.loads(jobs_file.read_text()):
        began = time.monotonic()
        result: dict[str, Any] = {"dag_id": job["dag_id"]}
        # A fresh parse per run: dag.test() leaves the run's conf in the DAG object's params.
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        dag = bag.get_dag(job["dag_id"])
        if dag is None:
            result.update(state="missing", error=f"not found; import errors: {bag.import_errors}")
        else:
            run = dag.test(run_conf=job["conf"])
            result["state"] = str(getattr(run.state, "value", run.state))
        result["seconds"] = round(time.monotonic() - began, 1)
        with results.open("a") as handle:
            handle.write(json.dumps(result) + "\n")
        if result["state"] != "success":
            return 1
    return 0


def _last_load_log_id(dsn: str) -> int:
    with _connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM lightspeed_staging.load_log")
        return int(cur.fetchone()[0])


def _load_counts(dsn: str, dag_id: str, after_id: int) -> dict[str, tuple[int, int]]:
    with _connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT entity, sum(fetched), sum(upserted)
            FROM lightspeed_staging.load_log
            WHERE id > %s AND run_id LIKE %s
            GROUP BY entity
            """,
            (after_id, dag_id.replace("_", r"\_") + "/%"),
        )
        return {
            entity: (int(fetched), int(upserted)) for entity, fetched, upserted in cur.fetchall()
        }


@contextmanager
def _connect(dsn: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(dsn)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def first_import(state: DemoState, options: DemoOptions, progress: Progress) -> None:
    with progress.step(
        f"First import through Airflow: Run now with days_back={options.days} (dag.test)"
    ):
        # The account DAG (no params) has no Days back: it reloads the small dimensions whole.
        # Nothing in the shop DAGs reads them, so all run side by side.
        jobs = [(state.account_dag_id, None)]
        jobs += [(shop.dag_id, {"days_back": options.days}) for shop in state.shops]
        run_dags(state, options, jobs, "first", progress)


def incremental_import(state: DemoState, options: DemoOptions, progress: Progress) -> None:
    with progress.step("Incremental run: the API's clock moves on an hour, then days_back=0"):
        localenv.emulator_clock(state.emulator_url, advance_seconds=INCREMENT.total_seconds())
        progress.note(f"data clock now {api_now(state.emulator_url).isoformat()}")
        jobs = [(shop.dag_id, {"days_back": 0}) for shop in state.shops]
        run_dags(state, options, jobs, "incremental", progress)


def api_now(emulator_url: str) -> datetime:
    """The emulator's data clock: the Date header of any answer (stats needs no token)."""
    response = requests.get(f"{emulator_url}/_emulator/stats", timeout=localenv.HTTP_TIMEOUT)
    return parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)


def report_range(now: datetime, days: int) -> tuple[date, date]:
    """The last `days` local dates up to the API's today (UTC date; no shop is ahead of UTC
    by enough to matter for the demo's zones, and an empty future date is harmless)."""
    last = now.date()
    return last - timedelta(days=days - 1), last


# --------------------------------------------------------------------------- traffic, reports


def quiet_library_logs() -> None:
    """Keep INFO lines of the in-process loaders out of the demo's own progress output.

    Importing Airflow (the hook does) sets up INFO logging to the console.
    """
    logging.getLogger("lightspeed").setLevel(logging.WARNING)


def load_counters(state: DemoState, options: DemoOptions, progress: Progress) -> tuple[date, date]:
    from lightspeed.counter_data import generate_counter_file
    from lightspeed.traffic import load_traffic

    quiet_library_logs()
    now = api_now(state.emulator_url)
    date_from, date_to = report_range(now, options.days)
    with progress.step(
        "People-counter data (synthetic exports, loaded with `lightspeed traffic load`)"
    ):
        for shop in state.shops:
            with _connect(state.warehouse_dsn) as conn:
                made = generate_counter_file(
                    conn,
                    shop.location_id,
                    date_from,
                    date_to,
                    seed=options.seed,
                    until=now,
                    out_dir=options.root / "counters",
                )
                loaded = load_traffic(conn, made.path)
            progress.note(
                f"{made.path}: {made.rows} {shop.sensor} rows, {made.visitors} visitors for "
                f"{made.transactions} transactions (~{made.conversion:.0%} conversion); loaded: "
                f"{loaded['inserted']} new, {loaded['updated']} updated, "
                f"{loaded['unchanged']} unchanged"
            )
    return date_from, date_to


def write_reports(
    state: DemoState, options: DemoOptions, date_from: date, date_to: date, progress: Progress
) -> None:
    from lightspeed.dashboard import build_dashboard
    from lightspeed.reports import format_totaling, totaling, write_export

    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    export_path = out / f"export_hourly_{date_from}_{date_to}.csv"
    dashboard_path = out / f"dashboard_{date_from}_{date_to}.html"
    with progress.step(f"Reports for {date_from} .. {date_to}"):
        with _connect(state.warehouse_dsn) as conn:
            conn.set_session(readonly=True)
            table = format_totaling(totaling(conn, date_from, date_to), "table", date_from, date_to)
            with export_path.open("w", newline="", encoding="utf-8") as handle:
                exported = write_export(conn, handle, date_from, date_to, grain="hour")
            dashboard_path.write_text(build_dashboard(conn, date_from, date_to), encoding="utf-8")
        print()
        print(table.rstrip())
        print()
        progress.note(f"Data Export (hourly): {export_path} ({exported.rows} rows)")
        progress.note(f"Dashboard: {dashboard_path}")
        if state.own_postgres:
            progress.note(
                f"The demo's PostgreSQL stops with it; its data stays in {options.root / 'pg'}."
            )
        else:
            progress.note(
                "Same reports from the CLI: "
                f"lightspeed report totaling --from {date_from} --to {date_to} "
                f"--warehouse {state.warehouse_dsn}"
            )


# --------------------------------------------------------------------------- UI mode


def serve_ui(
    state: DemoState, options: DemoOptions, processes: localenv.Processes, progress: Progress
) -> None:
    assert state.settings is not None
    with progress.step("Airflow UI: api-server, scheduler, dag-processor"):
        localenv.start_airflow(processes, state.settings, state.env)
        password = localenv.admin_password(state.settings.home)
        api = localenv.AirflowAPI(state.settings.api_url, localenv.AIRFLOW_ADMIN_USER, password)
        dag_ids = [state.account_dag_id, *(s["dag_id"] for s in state.shops)]
        localenv.wait_until(
            lambda: all(api.dag_exists(dag_id) for dag_id in dag_ids),
            timeout=120,
            what="The dag-processor parsing dags/lightspeed_shops.py",
            interval=1.0,
        )
        for dag_id in dag_ids:
            api.unpause(dag_id)
        progress.note(f"DAGs unpaused (they run on their schedules): {', '.join(dag_ids)}")
    print(
        f"\nAirflow UI: {state.settings.api_url}\n"
        f"Log in as {localenv.AIRFLOW_ADMIN_USER} / {password}\n"
        f"Run now: open a shop DAG, press Trigger, set Days back (e.g. {options.days} for the "
        "first import), and watch the run.\n"
        f"Logs: {options.root / 'logs'}   Lightspeed emulator: {state.emulator_url}\n"
        "Press Ctrl-C to stop everything.",
        flush=True,
    )
    while True:
        for child in list(processes.children):
            if not child.alive():
                raise localenv.LocalEnvError(
                    f"{child.name} stopped; its log ({child.log_path}) ends with:\n{child.log_tail()}"
                )
        time.sleep(2)


# --------------------------------------------------------------------------- main


def run(options: DemoOptions, processes: localenv.Processes) -> None:
    progress = Progress(UI_STEPS if options.ui else TOTAL_STEPS)
    state = DemoState(processes=processes)
    print(
        f"Lightspeed -> T.M.A.S. {'Airflow UI' if options.ui else 'demo'}: seed {options.seed}, "
        f"{options.shops} shops, {options.days} days"
        + (f", data clock pinned at {options.now}" if options.now else "")
        + f"; everything under {options.root}",
        flush=True,
    )
    setup_postgres(state, options, processes, progress)
    setup_warehouse(state, options, progress)
    setup_emulator(state, options, processes, progress)
    setup_airflow(state, options, progress)
    authorize_owner(state, progress)
    write_shop_config(state, options, progress)
    if options.ui:
        serve_ui(state, options, processes, progress)
        return
    first_import(state, options, progress)
    incremental_import(state, options, progress)
    _write_marker(
        options, {**_read_marker(options), "clock": api_now(state.emulator_url).isoformat()}
    )
    date_from, date_to = load_counters(state, options, progress)
    write_reports(state, options, date_from, date_to, progress)
    print(
        f"Demo finished in {progress.elapsed():.0f} s. Run it again any time: it converges.",
        flush=True,
    )


def parse_args(
    argv: Sequence[str] | None, environ: dict[str, str] | os._Environ = os.environ
) -> DemoOptions:
    parser = argparse.ArgumentParser(
        prog="python -m lightspeed.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=int(environ.get("SEED") or 42))
    parser.add_argument("--shops", type=int, default=int(environ.get("SHOPS") or 3))
    parser.add_argument("--days", type=int, default=int(environ.get("DAYS") or 3))
    parser.add_argument(
        "--now", default=environ.get("NOW") or None, help="pin the API's data clock (ISO-8601)"
    )
    parser.add_argument(
        "--root", type=Path, default=localenv.DEFAULT_ROOT, help="working folder (default .demo/)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop the demo warehouse first")
    parser.add_argument(
        "--ui", action="store_true", help="set up, then serve the Airflow UI until Ctrl-C"
    )
    parser.add_argument("--parallel", type=int, default=1, help="DAG runner processes (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.shops <= 50:
        parser.error("--shops/SHOPS must be between 1 and 50")
    if not 1 <= args.days <= 60:
        parser.error("--days/DAYS must be between 1 and 60")
    if args.now:
        try:
            parsed = datetime.fromisoformat(args.now)
        except ValueError:
            parser.error(f"NOW={args.now!r} is not ISO-8601, e.g. 2026-03-04T15:30:00+00:00")
        args.now = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()
    return DemoOptions(
        seed=args.seed,
        shops=args.shops,
        days=args.days,
        now=args.now,
        root=args.root.resolve(),
        fresh=args.fresh,
        ui=args.ui,
        parallel=args.parallel,
    )


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--dag-runner"]:
        return dag_runner(Path(argv[1]))
    options = parse_args(argv)
    localenv.raise_on_sigterm()
    try:
        with localenv.Processes(options.root / "logs") as processes:
            run(options, processes)
    except KeyboardInterrupt:
        print("\nInterrupted: every process the demo started was stopped.", file=sys.stderr)
        return 130
    except LightspeedError as exc:
        print(f"\nError: {exc}", file=sys.stderr)
        print(f"Logs: {options.root / 'logs'}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
