"""The DAG file as Airflow's dag-processor sees it: parsed once per module from the real dags/
folder with tests/fixtures/shops.yaml (set by tests/conftest.py)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from lightspeed.config import load_config, spread_minute

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "shops.yaml"
SHOP_DAGS = {"lightspeed_shop_0001", "lightspeed_shop_0002", "lightspeed_shop_LDN1"}
ACCOUNT_DAG = "lightspeed_account_lightspeed_default"
POOL = "lightspeed_lightspeed_default"
API_TASKS = {"plan", "import_sales", "import_employee_hours"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_enabled_shop_plus_the_account_dag(dagbag) -> None:
    assert set(dagbag.dag_ids) == SHOP_DAGS | {ACCOUNT_DAG}
    assert "lightspeed_shop_0003" not in dagbag.dag_ids, "shop 3 is disabled in the fixture"


@pytest.mark.parametrize(
    ("dag_id", "sensor", "interval"),
    [
        ("lightspeed_shop_0001", "pearl", 60),
        ("lightspeed_shop_0002", "3d_scope", 15),
        ("lightspeed_shop_LDN1", "3d_scope", 15),
    ],
)
def test_schedule_follows_the_sensor(dagbag, dag_id: str, sensor: str, interval: int) -> None:
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags[dag_id]
    location_id = dag_id.removeprefix("lightspeed_shop_")
    timetable = dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert str(timetable.timezone) in {"UTC", "Timezone('UTC')"} or timetable.timezone.name == "UTC"
    minutes, rest = timetable.expression.split(" ", 1)
    assert rest == "* * * *"
    fire = [int(m) for m in minutes.split(",")]
    offset = spread_minute(location_id, interval)
    assert fire == list(range(offset, 60, interval)), timetable.expression
    # The data interval of scheduled/backfill runs is the bucket ending at the fire time.
    assert timetable.interval == timedelta(minutes=interval)
    assert {"lightspeed", sensor, location_id} == set(dag.tags)


def test_start_minutes_are_spread(dagbag) -> None:
    # Offsets differ between shops (crc32 of the location ID) instead of all firing at :00.
    first = {dagbag.dags[d].timetable.expression.split(",")[0].split(" ")[0] for d in SHOP_DAGS}
    assert len(first) == 3
    assert dagbag.dags[ACCOUNT_DAG].timetable.expression == (
        f"{spread_minute('lightspeed_default', 60)} * * * *"
    )


@pytest.mark.parametrize("dag_id", sorted(SHOP_DAGS))
def test_shop_dag_shape(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.task_ids) == {
        "ensure_schema",
        "plan",
        "import_sales",
        "import_employee_hours",
        "rebuild_aggregates",
        "check",
    }
    assert dag.get_task("plan").upstream_task_ids == {"ensure_schema"}
    assert dag.get_task("import_sales").upstream_task_ids == {"plan"}
    assert dag.get_task("rebuild_aggregates").upstream_task_ids == {
        "plan",
        "import_sales",
        "import_employee_hours",
    }
    assert "rebuild_aggregates" in dag.get_task("check").upstream_task_ids
    for task in dag.tasks:
        assert task.pool == (POOL if task.task_id in API_TASKS else "default_pool"), task.task_id
        assert task.retries == 2  # the fixture's defaults.retries
        assert task.retry_delay == timedelta(seconds=30)
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay == timedelta(minutes=15)
    location_id = dag_id.removeprefix("lightspeed_shop_")
    (asset,) = dag.get_task("check").outlets
    assert asset.uri == f"lightspeed://lightspeed_default/shop/{location_id}"


def test_days_back_param_is_a_bounded_integer(dagbag) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["lightspeed_shop_0001"]
    param = dag.params.get_param("days_back")
    assert param.value == 0
    assert param.schema["type"] == "integer"
    assert (param.schema["minimum"], param.schema["maximum"]) == (0, 365)
    assert param.description
    assert param.resolve(7) == 7
    for bad in (-1, 366, "seven", 1.5):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_account_dag_imports_each_account_entity_once(dagbag) -> None:
    from lightspeed import entities

    dag = dagbag.dags[ACCOUNT_DAG]
    imports = {t for t in dag.task_ids if t.startswith("import_")}
    expected = {
        f"import_{name}"
        for name in ("shops", "registers", "payment_types", "categories", "employees", "items")
    }
    assert imports == expected
    from lightspeed.dag_builder import ACCOUNT_ENTITY_NAMES

    declared = {getattr(entities, name) for name in ACCOUNT_ENTITY_NAMES}
    assert declared == set(entities.ACCOUNT_ENTITIES)
    for task_id in imports | {"plan"}:
        assert dag.get_task(task_id).pool == POOL
    (asset,) = dag.get_task("check").outlets
    assert asset.uri == "lightspeed://lightspeed_default/dimensions"
    assert dag.max_active_runs == 1 and dag.catchup is False
    # No shop DAG imports an account-scoped entity.
    for dag_id in SHOP_DAGS:
        assert not {t for t in dagbag.dags[dag_id].task_ids if t in imports}


def test_every_dag_serializes(dagbag) -> None:
    """The dag-processor stores serialized DAGs; closures and Params must survive it."""
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in dagbag.dags.values():
        restored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        assert set(restored.task_ids) == set(dag.task_ids)


def test_parsing_context_builds_only_the_running_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "lightspeed_shop_0002")
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert bag.dag_ids == ["lightspeed_shop_0002"]


def test_broken_config_is_an_import_error_of_that_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(REPO / "dags" / "lightspeed_shops.py", folder / "lightspeed_shops.py")
    (folder / "other_dag.py").write_text(
        "from airflow.sdk import DAG\n\nwith DAG(dag_id='other_dag', schedule=None):\n    pass\n"
    )
    broken = tmp_path / "shops.yaml"
    broken.write_text(FIXTURE.read_text().replace("sensor: 3d_scope", "sensor: 3d-scope", 1))
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(broken))

    bag = DagBag(dag_folder=str(folder))

    assert bag.dag_ids == ["other_dag"]
    assert list(bag.import_errors) == [str(folder / "lightspeed_shops.py")]
    error = bag.import_errors[str(folder / "lightspeed_shops.py")]
    assert "ConfigError" in error
    assert "shops[1] (shop_id 2): unknown sensor '3d-scope'. Use one of: pearl, 3d_scope." in error


def test_parsing_imports_none_of_the_task_modules() -> None:
    """Hook, extract, aggregates (requests, psycopg2 behind them) load only when a task runs."""
    import subprocess
    import sys

    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('requests', 'psycopg2', 'pandas', 'lightspeed.hook',"
        " 'lightspeed.extract', 'lightspeed.aggregates', 'lightspeed.entities') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags" / "lightspeed_shops.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    # airflow itself may pull requests/psycopg2 indirectly; what we own must not.
    assert not {m for m in loaded.split(",") if m.startswith("lightspeed.")}, loaded


def _context(run_type: str, **extra: object) -> dict:
    dag_run = SimpleNamespace(run_type=run_type, run_id="run__x", dag_id="lightspeed_shop_0001")
    return {"dag_run": dag_run, "params": {"days_back": 0}, **extra}


def test_run_facts_by_run_type() -> None:
    from lightspeed.tasks import run_facts

    fire = datetime(2024, 3, 5, 10, 16, tzinfo=UTC)
    scheduled = run_facts(_context("scheduled", logical_date=fire), 60)
    assert (scheduled.days_back, scheduled.backfill_range) == (0, None)
    assert scheduled.run_key == "lightspeed_shop_0001/run__x"

    manual = run_facts(_context("manual", params={"days_back": 5}), 60)
    assert (manual.days_back, manual.backfill_range) == (5, None)

    from airflow.sdk.api.datamodels._generated import DagRunType

    backfill = run_facts(
        _context(
            DagRunType.BACKFILL,
            data_interval_start=fire - timedelta(minutes=15),
            data_interval_end=fire,
            logical_date=fire,
        ),
        15,
    )
    assert backfill.backfill_range == (fire - timedelta(minutes=15), fire)
    # A zero-width interval (another timetable) falls back to the previous fire time.
    zero = run_facts(
        _context("backfill", data_interval_start=fire, data_interval_end=fire, logical_date=fire),
        60,
    )
    assert zero.backfill_range == (fire - timedelta(hours=1), fire)


def test_config_seen_by_the_dag_file_is_the_fixture() -> None:
    assert re.search(r"fixtures", str(load_config().path))
