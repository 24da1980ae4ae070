"""`dag.test()` of the generated DAGs against the emulator (real HTTP, pinned data clock)
and the real PostgreSQL warehouse: what a data engineer would see after Run now and after
the next scheduled run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import pytest

from lightspeed.cli import main
from lightspeed.config import load_config

REPO = Path(__file__).resolve().parents[2]
PINNED_NOW = datetime(2026, 3, 4, 15, 7, tzinfo=UTC)  # as in conftest.py


def _dags() -> dict:
    """Parse the real DAG file as the dag-processor does (with the test's chain config)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "lightspeed_shops.py"))
    assert bag.import_errors == {}
    return bag.dags


def _task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _query(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def _staging_sales_by_local_day(dsn: str, shop_id: int, time_zone: str, location: str) -> tuple:
    """Sales per the T.M.A.S. rule, straight from staging, over the days the aggregates hold."""
    return _query(
        dsn,
        """
        WITH days AS (
            SELECT min(local_date) AS first, max(local_date) AS last
            FROM lightspeed_agg.interval_metrics WHERE location_id = %s
        )
        SELECT coalesce(sum(s.calc_subtotal - s.calc_discount), 0), count(*)
        FROM lightspeed_staging.sale s, days
        WHERE s.shop_id = %s AND s.completed AND NOT s.voided AND NOT s.archived
          AND (s.complete_time AT TIME ZONE %s)::date BETWEEN days.first AND days.last
        """,
        (location, shop_id, time_zone),
    )[0]


@pytest.mark.parametrize(
    ("location_id", "shop_id", "time_zone", "interval"),
    [("0001", 1, "US/Eastern", 60), ("0002", 2, "America/Phoenix", 15)],
    ids=["pearl", "3d_scope"],
)
def test_run_now_then_incremental_run(
    airflow_db: None,
    chain_config: Path,
    lightspeed_conn: str,
    warehouse_dsn: str,
    emulator: object,
    location_id: str,
    shop_id: int,
    time_zone: str,
    interval: int,
) -> None:
    dag = _dags()[f"lightspeed_shop_{location_id}"]

    # Run now with "Days back" = 2.
    started = time.perf_counter()
    first = dag.test(run_conf={"days_back": 2})
    first_seconds = time.perf_counter() - started
    assert str(first.state) == "success", _task_states(first)
    assert set(_task_states(first).values()) == {"success"}

    run_key = f"{dag.dag_id}/{first.run_id}"
    logged = dict(
        (entity, (start, end))
        for entity, start, end in _query(
            warehouse_dsn,
            "SELECT entity, window_start, window_end FROM lightspeed_staging.load_log "
            "WHERE run_id = %s AND shop_id = %s",
            (run_key, shop_id),
        )
    )
    assert set(logged) == {"sale", "employee_hours"}
    assert logged["sale"] == (PINNED_NOW - timedelta(days=2), PINNED_NOW), "API clock, not local"

    (sales_1,) = _query(
        warehouse_dsn, "SELECT count(*) FROM lightspeed_staging.sale WHERE shop_id = %s", (shop_id,)
    )[0]
    (hours_1,) = _query(
        warehouse_dsn,
        "SELECT count(*) FROM lightspeed_staging.employee_hours WHERE shop_id = %s",
        (shop_id,),
    )[0]
    assert sales_1 > 50 and hours_1 > 0
    assert _query(
        warehouse_dsn,
        "SELECT count(*) FROM lightspeed_staging.sale WHERE shop_id <> %s",
        (shop_id,),
    )[0] == (0,), "a shop DAG imports its own shop only"

    metrics = _query(
        warehouse_dsn,
        "SELECT DISTINCT interval_minutes FROM lightspeed_agg.interval_metrics "
        "WHERE location_id = %s",
        (location_id,),
    )
    assert metrics == [(interval,)], "bucket length follows the sensor"
    agg_sales, agg_transactions = _query(
        warehouse_dsn,
        "SELECT sum(sales), sum(transactions) FROM lightspeed_agg.interval_metrics "
        "WHERE location_id = %s",
        (location_id,),
    )[0]
    staged_sales, _ = _staging_sales_by_local_day(warehouse_dsn, shop_id, time_zone, location_id)
    assert agg_sales == staged_sales and agg_sales > 0
    assert agg_transactions > 0

    # Two hours later on the API's clock: the next (scheduled-like) run is incremental.
    emulator.clock.advance(2 * 3600)  # type: ignore[attr-defined]
    # A fresh parse, as a worker would: in-process dag.test() leaves the first run's conf
    # (days_back=2) in the DAG object's task params.
    dag = _dags()[f"lightspeed_shop_{location_id}"]
    started = time.perf_counter()
    second = dag.test()
    second_seconds = time.perf_counter() - started
    assert str(second.state) == "success", _task_states(second)

    window = _query(
        warehouse_dsn,
        "SELECT window_field, window_start, window_end FROM lightspeed_staging.load_log "
        "WHERE run_id = %s AND entity = 'sale'",
        (f"{dag.dag_id}/{second.run_id}",),
    )
    assert window == [
        ("timeStamp", PINNED_NOW - timedelta(hours=48), PINNED_NOW + timedelta(hours=2))
    ], window
    (latest,) = _query(
        warehouse_dsn,
        "SELECT max(complete_time) FROM lightspeed_staging.sale WHERE shop_id = %s",
        (shop_id,),
    )[0]
    assert latest > PINNED_NOW, "sales of the last two hours arrived"
    (watermark,) = _query(
        warehouse_dsn,
        "SELECT high_water FROM lightspeed_staging.watermark WHERE entity = 'sale' AND shop_id = %s",
        (shop_id,),
    )[0]
    assert watermark == PINNED_NOW + timedelta(hours=2)
    agg_sales_2 = _query(
        warehouse_dsn,
        "SELECT sum(sales) FROM lightspeed_agg.interval_metrics WHERE location_id = %s",
        (location_id,),
    )[0][0]
    staged_sales_2, _ = _staging_sales_by_local_day(warehouse_dsn, shop_id, time_zone, location_id)
    assert agg_sales_2 == staged_sales_2 > agg_sales
    print(
        f"\n{dag.dag_id}: days_back run {first_seconds:.1f} s, incremental {second_seconds:.1f} s"
    )


def _run_task_bodies(target, run_type: str, run_id: str, **context: object) -> dict:
    """The shop DAG's task bodies in order, as the workers run them for one DAG run."""
    from lightspeed import tasks

    run = SimpleNamespace(run_type=run_type, run_id=run_id, dag_id=target.shop.dag_id)
    facts = tasks.run_facts({"dag_run": run, **context}, target.shop.interval_minutes)
    plan = tasks.plan_shop(target, facts)
    results = [tasks.import_shop_entity(target, name, plan) for name in ("SALES", "EMPLOYEE_HOURS")]
    rebuilt = tasks.rebuild_shop_aggregates(target, plan, results)
    tasks.check_shop_run(target, plan, results, rebuilt)
    return {"plan": plan, "results": results}


def test_backfill_range_is_idempotent_and_keeps_the_watermark(
    chain_config: Path, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    """A backfill run over an hour already loaded changes nothing, watermark included."""
    from lightspeed import tasks

    config = load_config(chain_config)
    account = config.accounts[0]
    target = tasks.ShopTarget(
        account.conn_id, config.warehouse_conn_id, account.shops[0], config.defaults
    )
    _run_task_bodies(target, "manual", "manual__load", params={"days_back": 1})
    snapshot = """
        SELECT (SELECT (count(*), sum(calc_total), max(loaded_at))::text
                FROM lightspeed_staging.sale WHERE shop_id = 1),
               (SELECT (count(*), sum(sales), sum(transactions), sum(staff_hours))::text
                FROM lightspeed_agg.interval_metrics WHERE location_id = '0001'),
               (SELECT string_agg(entity || high_water, ',' ORDER BY entity)
                FROM lightspeed_staging.watermark)
    """
    before = _query(warehouse_dsn, snapshot)

    # A past fire time of 0001 (minute 16), the afternoon before: the shop was open. Its
    # data interval is the hour before, as the builder's CronTriggerTimetable gives it.
    fire = datetime(2026, 3, 3, 19, 16, tzinfo=UTC)
    run = _run_task_bodies(
        target,
        "backfill",
        "backfill__2026-03-03T19:16:00+00:00",
        params={"days_back": 0},
        data_interval_start=fire - timedelta(hours=1),
        data_interval_end=fire,
    )

    window = run["plan"]["windows"]["SALES"]
    assert (window["mode"], window["field"]) == ("backfill", "completeTime")
    assert (window["start"], window["end"]) == (
        (fire - timedelta(hours=1)).isoformat(),
        fire.isoformat(),
    )
    sales = run["results"][0]
    assert sales["fetched"] > 0 and sales["upserted"] == 0
    assert _query(warehouse_dsn, snapshot) == before, "staging, aggregates, watermarks unchanged"


def test_account_dag_imports_dimensions_once(
    airflow_db: None, chain_config: Path, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    dag = _dags()["lightspeed_account_lightspeed_default"]
    run = dag.test()
    assert str(run.state) == "success", _task_states(run)
    counts = dict(
        _query(
            warehouse_dsn,
            """
            SELECT 'shop', count(*) FROM lightspeed_staging.shop UNION ALL
            SELECT 'register', count(*) FROM lightspeed_staging.register UNION ALL
            SELECT 'payment_type', count(*) FROM lightspeed_staging.payment_type UNION ALL
            SELECT 'category', count(*) FROM lightspeed_staging.category UNION ALL
            SELECT 'employee', count(*) FROM lightspeed_staging.employee UNION ALL
            SELECT 'item', count(*) FROM lightspeed_staging.item
            """,
        )
    )
    assert counts["shop"] == 3  # every shop of the account, also those the config leaves out
    assert all(count > 0 for count in counts.values()), counts
    logged = _query(
        warehouse_dsn,
        "SELECT entity, count(*) FROM lightspeed_staging.load_log WHERE run_id = %s "
        "GROUP BY entity ORDER BY entity",
        (f"{dag.dag_id}/{run.run_id}",),
    )
    assert [count for _, count in logged] == [1] * 6, logged


def test_missing_authorization_fails_at_once_without_retries(
    airflow_db: None,
    chain_config: Path,
    emulator_conn: str,
    warehouse_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ReauthorizeRequired is not retried: with retries configured the run still fails in
    one try (dag.test() would otherwise wait out the retry delay)."""
    chain_config.write_text(chain_config.read_text().replace("retries: 0", "retries: 3"))
    dag = _dags()["lightspeed_shop_0001"]
    assert dag.get_task("plan").retries == 3

    started = time.perf_counter()
    run = dag.test()
    assert time.perf_counter() - started < 30
    states = _task_states(run)
    assert str(run.state) == "failed"
    assert states["plan"] == "failed", states  # not up_for_retry
    assert states["import_sales"] == "upstream_failed"


def test_lightspeed_shops_writes_the_chain_from_the_api(
    lightspeed_conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "include" / "shops.yaml"
    assert main(["shops", "--conn-id", lightspeed_conn, "--output", str(output)]) == 0
    config = load_config(output)
    shops = config.accounts[0].shops
    assert [(s.shop_id, s.location_id, s.time_zone, s.sensor) for s in shops] == [
        (1, "0001", "US/Eastern", "pearl"),
        (2, "0002", "America/Phoenix", "pearl"),
        (3, "0003", "US/Pacific", "pearl"),
    ]
    assert "airflow pools set lightspeed_lightspeed_default" in capsys.readouterr().out
    assert main(["shops", "--conn-id", lightspeed_conn, "--output", str(output)]) == 2


def test_a_shop_the_account_does_not_have_fails_the_run_with_advice(
    chain_config: Path, lightspeed_conn: str, warehouse_dsn: str
) -> None:
    """Shop 9 is not in the emulator's 3-shop account: the run says so instead of importing
    nothing, on every run, forever."""
    import dataclasses

    from airflow.sdk.exceptions import AirflowFailException

    from lightspeed import tasks

    config = load_config(chain_config)
    account = config.accounts[0]
    shop = dataclasses.replace(account.shops[0], shop_id=9, location_id="0009")
    target = tasks.ShopTarget(account.conn_id, config.warehouse_conn_id, shop, config.defaults)
    with pytest.raises(AirflowFailException, match=r"Shop 9 \(location 0009\) is not a shop of"):
        _run_task_bodies(target, "manual", "manual__unknown_shop")
