"""Two shop DAGs run to success on a distributed executor: CeleryExecutor, Redis, a worker.

Everything real: the scheduler, api-server and dag-processor as separate processes with
CeleryExecutor (Redis on 127.0.0.1:6379 as the broker, a fresh PostgreSQL database as
Airflow's metadata DB and Celery's result backend), one `airflow celery worker`, the
emulator over HTTP, the warehouse from the conftest fixture. The runs are started as a user
presses "Trigger" (REST, after unpausing), and the test checks what a user would: both runs
succeed, every task ran through the Celery queue, and the warehouse holds both shops' sales.
Then, on the same scheduler and worker, `airflow backfill create` over three hourly fire times
of the PEARL shop (inside the emulator's history, before its clock): the backfill runs succeed,
and the same backfill again with `--reprocess-behavior completed` re-runs them, leaves the
shop's staging rows unchanged and does not move the watermark backwards.

A queue name of its own keeps other Celery users of the same Redis (another test run) apart.
Every process runs in its own process group and is stopped by group at the end.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from lightspeed import localenv
from lightspeed.authorize import authorize_with_login
from lightspeed.connection import DEFAULT_CONN_ID, LightspeedConnection
from lightspeed_emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

pytestmark = pytest.mark.timeout(420)

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_ADMIN_DSN = localenv.DEFAULT_PG_ADMIN_DSN
PINNED_NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
SHOPS_YAML = """\
connection: lightspeed_default
warehouse: lightspeed_warehouse
defaults: {initial_days: 1, retries: 0}
shops:
  - shop_id: 1
    sensor: pearl
    time_zone: US/Eastern
  - shop_id: 2
    sensor: 3d_scope
    time_zone: America/Phoenix
"""
DAG_IDS = ("lightspeed_shop_0001", "lightspeed_shop_0002")
# Shop 1 (PEARL) fires hourly at minute 16 UTC: fire times (run_after) 13:16, 14:16 and 15:16
# on the day before the emulator's clock, within its two days of history and before the Run now
# window (days_back 1 reads from 2026-03-03 15:30), so the first backfill loads new sales.
BACKFILL_DAG_ID = "lightspeed_shop_0001"
BACKFILL_FROM = "2026-03-03T13:00:00+00:00"
BACKFILL_TO = "2026-03-03T15:30:00+00:00"
BACKFILL_FIRE_TIMES = {datetime(2026, 3, 3, hour, 16, tzinfo=UTC) for hour in (13, 14, 15)}
STAGING_TABLES = ("sale", "sale_line", "employee_hours")
# Which run wrote a row, and when: differs by design between two loads of the same data.
RUN_COLUMNS = {"loaded_at", "run_id", "extracted_at", "raw"}


def test_celery_executor_loads() -> None:
    """The scheduler imports this module for CeleryExecutor; a broken pair of celery and the
    celery provider only shows up there, as a scheduler that exits at start-up."""
    from importlib.metadata import version

    try:
        import airflow.providers.celery.executors.celery_executor  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"CeleryExecutor cannot be imported ({exc}): celery {version('celery')} does not "
            f"work with apache-airflow-providers-celery {version('apache-airflow-providers-celery')}. "
            "Pin a celery both accept in requirements.txt (e.g. celery[redis]<5.7) and `make lock`."
        )


@pytest.fixture
def redis_broker() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis does not answer on 127.0.0.1:6379 (.ci/run starts it)")
    queue = f"lightspeed_e2e_{uuid.uuid4().hex[:8]}"
    yield queue
    client.delete(queue)
    client.close()


@pytest.fixture
def metadata_dsn() -> Iterator[str]:
    name = f"ls_e2e_airflow_{uuid.uuid4().hex[:8]}"
    dsn = localenv.ensure_database(PG_ADMIN_DSN, name)
    yield dsn
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def celery_emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(shops=2, days=2, sales_per_day=40, now=PINNED_NOW, clock_speed=0)
    with EmulatorServer(config) as server:
        yield server


def test_two_shop_dags_succeed_on_celery(
    tmp_path: Path,
    warehouse_dsn: str,
    metadata_dsn: str,
    redis_broker: str,
    celery_emulator: EmulatorServer,
) -> None:
    connection = LightspeedConnection(
        conn_id=DEFAULT_CONN_ID,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        api_base_url=celery_emulator.url,
        oauth_base_url=celery_emulator.url,
    )
    authorize_with_login(connection, "owner", "owner", warehouse=warehouse_dsn)
    shops_config = tmp_path / "shops.yaml"
    shops_config.write_text(SHOPS_YAML)
    settings = localenv.AirflowSettings(
        home=tmp_path / "airflow",
        metadata_dsn=metadata_dsn,
        api_port=localenv.free_port(),
        shops_config=shops_config,
        warehouse_dsn=warehouse_dsn,
        lightspeed_conn=localenv.lightspeed_conn_for_emulator(
            celery_emulator.url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET
        ),
        executor="CeleryExecutor",
        extra_env={
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_dsn,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": redis_broker,
            # Only the runs this test triggers: unpausing would also start one for the latest
            # cron tick, and max_active_runs=1 would queue ours behind it.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        },
    )
    env = localenv.airflow_env(settings)
    localenv.prepare_airflow(settings, env, [f"lightspeed_{DEFAULT_CONN_ID}"])

    with localenv.Processes(tmp_path / "logs") as processes:
        localenv.start_airflow(
            processes,
            settings,
            env,
            (
                "api-server",
                "scheduler",
                "dag-processor",
                f"celery worker --queues {redis_broker} --concurrency 2",
            ),
        )
        api = localenv.AirflowAPI(
            settings.api_url,
            localenv.AIRFLOW_ADMIN_USER,
            localenv.admin_password(settings.home),
        )
        localenv.wait_until(
            lambda: all(api.dag_exists(dag_id) for dag_id in DAG_IDS),
            timeout=90,
            what="the dag-processor serializing the shop DAGs",
            interval=1.0,
        )
        runs = {}
        for dag_id in DAG_IDS:
            api.unpause(dag_id)
            runs[dag_id] = api.trigger(dag_id, {"days_back": 1})
        states = {
            dag_id: api.wait_for_run(dag_id, run_id, timeout=240) for dag_id, run_id in runs.items()
        }
        task_instances = {
            dag_id: api.task_instances(dag_id, run_id) for dag_id, run_id in runs.items()
        }
        worker_log = next(
            c for c in processes.children if c.name == "airflow-celery-worker"
        ).log_path
        assert states == dict.fromkeys(DAG_IDS, "success"), _logs_hint(tmp_path)

        # Backfill over three fire times, then the same range again, reprocessing.
        before = _warehouse_snapshot(warehouse_dsn, shop_id=1)
        _backfill(env)
        first = _wait_for_backfill(api, {}, tmp_path, closed=True)
        after_first = _warehouse_snapshot(warehouse_dsn, shop_id=1)
        _backfill(env, "--reprocess-behavior", "completed")
        _wait_for_backfill(api, first, tmp_path, closed=False)
        after_second = _warehouse_snapshot(warehouse_dsn, shop_id=1)

    for dag_id, instances in task_instances.items():
        assert {ti["state"] for ti in instances} == {"success"}, (dag_id, instances)
        # Sent through our Celery queue, run by the worker (not a local executor).
        assert {ti["queue"] for ti in instances} == {redis_broker}, dag_id
    # ... and the Celery worker ran every one of them, and every task of both backfill rounds.
    ran = re.findall(
        r"Task execute_workload\[[^\]]+\] succeeded", worker_log.read_text(errors="replace")
    )
    backfilled = 2 * len(BACKFILL_FIRE_TIMES) * len(task_instances[BACKFILL_DAG_ID])
    assert len(ran) == sum(len(instances) for instances in task_instances.values()) + backfilled
    with psycopg2.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT shop_id, count(*) FROM lightspeed_staging.sale GROUP BY shop_id ORDER BY 1"
        )
        sales = dict(cur.fetchall())
        cur.execute("SELECT DISTINCT location_id FROM lightspeed_agg.interval_metrics ORDER BY 1")
        located = [row[0] for row in cur.fetchall()]
    assert set(sales) == {1, 2} and min(sales.values()) > 0, sales
    assert located == ["0001", "0002"]

    # The backfill loaded the shop's morning (US/Eastern) of 2026-03-03 ...
    assert len(after_first["sale"]) > len(before["sale"]), (before["sale"], after_first["sale"])
    # ... and the reprocessed backfill changed none of its rows: idempotent.
    for table in (*STAGING_TABLES, "watermark"):
        assert after_second[table] == after_first[table], table
    # Each backfill run read its own hour, (fire time - 1 h, fire time], in both rounds.
    with psycopg2.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT entity, window_start, window_end, count(*) FROM lightspeed_staging.load_log "
            "WHERE run_id LIKE %s GROUP BY 1, 2, 3 ORDER BY 1, 2",
            (f"{BACKFILL_DAG_ID}/backfill%",),
        )
        windows = cur.fetchall()
    conn.close()
    expected = [
        (entity, fire - timedelta(hours=1), fire, 2)
        for entity in ("employee_hours", "sale")
        for fire in sorted(BACKFILL_FIRE_TIMES)
    ]
    assert windows == expected, windows
    # The watermark never moved backwards; backfills read a range and leave it alone.
    for key, high_water in before["watermark"].items():
        assert after_second["watermark"][key] >= high_water, key
    assert after_first["watermark"] == before["watermark"]


def _backfill(env: dict[str, str], *extra: str) -> None:
    """`airflow backfill create` as a user types it, with the daemons' environment."""
    argv = localenv.airflow_argv(
        [
            "backfill",
            "create",
            "--dag-id",
            BACKFILL_DAG_ID,
            "--from-date",
            BACKFILL_FROM,
            "--to-date",
            BACKFILL_TO,
            *extra,
        ]
    )
    result = subprocess.run(  # noqa: S603
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert result.returncode == 0, (argv, result.stdout[-2000:], result.stderr[-2000:])


def _wait_for_backfill(
    api: localenv.AirflowAPI, previous: dict[str, str], tmp_path: Path, *, closed: bool
) -> dict[str, str]:
    """Wait until the backfill's runs all succeeded (each finished after `previous`, its end
    of an earlier round) and, if `closed`, the scheduler closed the backfill (it does so up to
    ~15 s later; a new backfill of the DAG is refused until then); return run_id -> end_date."""
    seen: dict[str, Any] = {}

    def done() -> bool:
        try:
            runs = api._call("GET", f"/dags/{BACKFILL_DAG_ID}/dagRuns", params={"limit": 100})
            backfills = api._call("GET", "/backfills", params={"dag_id": BACKFILL_DAG_ID})
        except Exception:  # noqa: BLE001 - a busy api-server: skip this poll
            return False
        mine = [r for r in runs["dag_runs"] if r["run_type"] == "backfill"]
        seen["runs"] = mine
        seen["backfills"] = backfills["backfills"]
        if any(r["state"] == "failed" for r in mine):
            return True
        return (
            {datetime.fromisoformat(r["run_after"]) for r in mine} == BACKFILL_FIRE_TIMES
            and all(r["state"] == "success" for r in mine)
            and all(r["end_date"] != previous.get(r["dag_run_id"]) for r in mine)
            and (not closed or all(b["completed_at"] for b in seen["backfills"]))
        )

    localenv.wait_until(done, timeout=180, what="the backfill runs", interval=1.0)
    states = {r["dag_run_id"]: r["state"] for r in seen["runs"]}
    assert set(states.values()) == {"success"}, (states, _logs_hint(tmp_path))
    return {r["dag_run_id"]: r["end_date"] for r in seen["runs"]}


def _warehouse_snapshot(dsn: str, shop_id: int) -> dict[str, Any]:
    """The shop's staging rows (typed columns, not which run wrote them) and the watermarks."""
    snapshot: dict[str, Any] = {}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for table in STAGING_TABLES:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'lightspeed_staging' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            columns = [c for (c,) in cur.fetchall() if c not in RUN_COLUMNS]
            cur.execute(
                f"SELECT {', '.join(columns)} FROM lightspeed_staging.{table} "  # noqa: S608
                "WHERE shop_id = %s ORDER BY 1, 2",
                (shop_id,),
            )
            snapshot[table] = cur.fetchall()
        cur.execute(
            "SELECT account_id, entity, shop_id, high_water FROM lightspeed_staging.watermark"
        )
        snapshot["watermark"] = {tuple(row[:3]): row[3] for row in cur.fetchall()}
    conn.close()
    return snapshot


def _logs_hint(tmp_path: Path) -> str:
    return f"see the logs under {tmp_path / 'logs'} and {tmp_path / 'airflow' / 'logs'}"
