"""Two shop DAGs run to success on a distributed executor: CeleryExecutor, Redis, a worker.

Everything real: the scheduler, api-server and dag-processor as separate processes with
CeleryExecutor (Redis on 127.0.0.1:6379 as the broker, a fresh PostgreSQL database as
Airflow's metadata DB and Celery's result backend), one `airflow celery worker`, the
emulator over HTTP, the warehouse from the conftest fixture. The runs are started as a user
presses "Trigger" (REST, after unpausing), and the test checks what a user would: both runs
succeed, every task ran through the Celery queue, and the warehouse holds both shops' sales.

A queue name of its own keeps other Celery users of the same Redis (another test run) apart.
Every process runs in its own process group and is stopped by group at the end.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from lightspeed import localenv
from lightspeed.authorize import authorize_with_login
from lightspeed.connection import DEFAULT_CONN_ID, LightspeedConnection
from lightspeed_emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

pytestmark = pytest.mark.timeout(300)

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
    for dag_id, instances in task_instances.items():
        assert {ti["state"] for ti in instances} == {"success"}, (dag_id, instances)
        # Sent through our Celery queue, run by the worker (not a local executor).
        assert {ti["queue"] for ti in instances} == {redis_broker}, dag_id
    # ... and the Celery worker ran every one of them.
    ran = re.findall(
        r"Task execute_workload\[[^\]]+\] succeeded", worker_log.read_text(errors="replace")
    )
    assert len(ran) == sum(len(instances) for instances in task_instances.values())
    with psycopg2.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT shop_id, count(*) FROM lightspeed_staging.sale GROUP BY shop_id ORDER BY 1"
        )
        sales = dict(cur.fetchall())
        cur.execute("SELECT DISTINCT location_id FROM lightspeed_agg.interval_metrics ORDER BY 1")
        located = [row[0] for row in cur.fetchall()]
    assert set(sales) == {1, 2} and min(sales.values()) > 0, sales
    assert located == ["0001", "0002"]


def _logs_hint(tmp_path: Path) -> str:
    return f"see the logs under {tmp_path / 'logs'} and {tmp_path / 'airflow' / 'logs'}"
