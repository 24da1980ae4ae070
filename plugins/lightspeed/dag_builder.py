"""Builds one DAG per enabled shop and one per Lightspeed account from the chain config.

Runs at every parse of dags/lightspeed_shops.py (for a 1,000-shop chain too), so it only
declares: no network, database, Variable or heavy import. The task bodies live in
`lightspeed.tasks` and import the hook, psycopg2 and friends when they run.

Shop DAG `lightspeed_shop_<location_id>`::

    ensure_schema >> plan >> [import_sales, import_employee_hours] >> rebuild_aggregates >> check

Account DAG `lightspeed_account_<conn_id>`: ensure_schema >> plan >> import_<entity> (x6) >> check.
Every task that calls the API runs in the pool `lightspeed_<conn_id>`, so all shops of one
account together stay inside its rate limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, CronTriggerTimetable, Param, task

from lightspeed import tasks
from lightspeed.config import AccountConfig, ChainConfig, Defaults, ShopConfig, spread_minute

# Fixed, in the past: with catchup=False the first run is the next fire time, and a backfill
# may reach any date after this.
START_DATE = datetime(2020, 1, 1, tzinfo=UTC)
ACCOUNT_INTERVAL_MINUTES = 60
# The entities the account DAG imports, by their name in lightspeed.entities (imported only
# when a task runs). Shops and registers first: they are what the shop DAGs' data refer to.
ACCOUNT_ENTITY_NAMES = (
    "SHOPS",
    "REGISTERS",
    "PAYMENT_TYPES",
    "CATEGORIES",
    "EMPLOYEES",
    "ITEMS",
)
SHOP_ENTITY_TASKS = {"import_sales": "SALES", "import_employee_hours": "EMPLOYEE_HOURS"}


def days_back_param() -> Param:
    """The Run now form field. A new Param per DAG: Param.resolve() stores the value it
    resolved, so a shared instance would carry one run's days_back into another DAG."""
    return Param(
        0,
        type="integer",
        minimum=0,
        maximum=365,
        title="Days back",
        description=(
            "0 = a normal incremental run. N > 0 re-imports the last N days (by the API's "
            "clock) and rebuilds their aggregates; the incremental watermark is not moved "
            "backwards."
        ),
    )


def cron_for(key: str, interval_minutes: int) -> str:
    """Cron firing every `interval_minutes` (15 or 60), at a minute offset spread by `key`.

    One string per DAG and a crc32: cheap enough for thousands of shops at every parse.
    """
    offset = spread_minute(key, interval_minutes)
    minutes = ",".join(str(minute) for minute in range(offset, 60, interval_minutes))
    return f"{minutes} * * * *"


def shop_asset(account: AccountConfig, shop: ShopConfig) -> Asset:
    return Asset(
        name=f"lightspeed_shop_{shop.location_id}",
        uri=f"lightspeed://{account.conn_id}/shop/{shop.location_id}",
        group="lightspeed",
    )


def account_asset(account: AccountConfig) -> Asset:
    return Asset(
        name=f"lightspeed_account_{account.conn_id}",
        uri=f"lightspeed://{account.conn_id}/dimensions",
        group="lightspeed",
    )


def default_args(defaults: Defaults) -> dict[str, Any]:
    """Retries with exponential backoff; fatal errors skip them (tasks.fail_fast)."""
    return {
        "owner": "lightspeed",
        "retries": defaults.retries,
        "retry_delay": timedelta(seconds=defaults.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=defaults.max_retry_delay_minutes),
    }


def iter_dag_factories(config: ChainConfig) -> Iterator[tuple[str, Callable[[], DAG]]]:
    """(dag_id, build) for every DAG of the chain; building is deferred so a task's run
    (get_parsing_context) builds only its own DAG."""
    for account in config.accounts:
        yield account.dag_id, lambda account=account: build_account_dag(config, account)
        for shop in account.enabled_shops:
            yield (
                shop.dag_id,
                lambda account=account, shop=shop: build_shop_dag(config, account, shop),
            )


def build_shop_dag(config: ChainConfig, account: AccountConfig, shop: ShopConfig) -> DAG:
    """The DAG importing one shop's sales and time clock and rebuilding its aggregates."""
    cron = cron_for(shop.location_id, shop.interval_minutes)
    target = tasks.ShopTarget(
        conn_id=account.conn_id,
        warehouse_conn_id=config.warehouse_conn_id,
        shop=shop,
        defaults=config.defaults,
    )
    with DAG(
        dag_id=shop.dag_id,
        dag_display_name=f"Lightspeed shop {shop.location_id}"
        + (f" ({shop.label})" if shop.label else ""),
        description=f"Lightspeed shop {shop.shop_id} -> T.M.A.S. location {shop.location_id} "
        f"({shop.sensor}, {shop.interval_minutes}-minute buckets, {shop.time_zone})",
        schedule=CronTriggerTimetable(
            cron, timezone="UTC", interval=timedelta(minutes=shop.interval_minutes)
        ),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["lightspeed", shop.sensor, shop.location_id],
        params={"days_back": days_back_param()},
        default_args=default_args(config.defaults),
        doc_md=_SHOP_DOC,
    ) as dag:
        schema = _schema_task(target.warehouse_conn_id)

        @task(task_id="plan", pool=account.pool)
        def plan() -> dict:
            return tasks.plan_shop(target, tasks.current_run_facts(shop.interval_minutes))

        planned = plan()
        schema >> planned
        results = [
            _shop_import_task(task_id, entity_name, account.pool, target)(planned)
            for task_id, entity_name in SHOP_ENTITY_TASKS.items()
        ]

        @task(task_id="rebuild_aggregates")
        def rebuild_aggregates(plan: dict, sales: dict, hours: dict) -> dict:
            return tasks.rebuild_shop_aggregates(target, plan, [sales, hours])

        @task(task_id="check", outlets=[shop_asset(account, shop)])
        def check(plan: dict, sales: dict, hours: dict, rebuilt: dict) -> dict:
            return tasks.check_shop_run(target, plan, [sales, hours], rebuilt)

        rebuilt = rebuild_aggregates(planned, *results)
        check(planned, *results, rebuilt)
    return dag


def _schema_task(warehouse_conn_id: str) -> Any:
    @task(task_id="ensure_schema")
    def ensure_schema() -> dict:
        return tasks.ensure_schema(warehouse_conn_id)

    return ensure_schema()


def _shop_import_task(
    task_id: str, entity_name: str, pool: str, target: tasks.ShopTarget
) -> Callable[..., Any]:
    @task(task_id=task_id, pool=pool)
    def import_entity(plan: dict) -> dict:
        return tasks.import_shop_entity(target, entity_name, plan)

    return import_entity


def build_account_dag(config: ChainConfig, account: AccountConfig) -> DAG:
    """The DAG importing the account-wide entities once, however many shops the account has."""
    target = tasks.AccountTarget(
        conn_id=account.conn_id,
        warehouse_conn_id=config.warehouse_conn_id,
        defaults=config.defaults,
        shop_ids=tuple(shop.shop_id for shop in account.shops),
    )
    with DAG(
        dag_id=account.dag_id,
        dag_display_name=f"Lightspeed account {account.conn_id}",
        description=f"Items, categories, employees, payment types, shops and registers of the "
        f"Lightspeed account behind connection {account.conn_id}",
        schedule=CronTriggerTimetable(
            cron_for(account.conn_id, ACCOUNT_INTERVAL_MINUTES),
            timezone="UTC",
            interval=timedelta(minutes=ACCOUNT_INTERVAL_MINUTES),
        ),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["lightspeed", "account", account.conn_id],
        default_args=default_args(config.defaults),
        doc_md=_ACCOUNT_DOC,
    ) as dag:
        schema = _schema_task(target.warehouse_conn_id)

        @task(task_id="plan", pool=account.pool)
        def plan() -> dict:
            return tasks.plan_account(target, ACCOUNT_ENTITY_NAMES, tasks.current_run_facts(60))

        planned = plan()
        schema >> planned
        results = [
            _account_import_task(name, account.pool, target)(planned)
            for name in ACCOUNT_ENTITY_NAMES
        ]

        @task(task_id="check", outlets=[account_asset(account)])
        def check(plan: dict, results: list[dict]) -> dict:
            return tasks.check_account_run(target, plan, results)

        check(planned, results)
    return dag


def _account_import_task(
    entity_name: str, pool: str, target: tasks.AccountTarget
) -> Callable[..., Any]:
    @task(task_id=f"import_{entity_name.lower()}", pool=pool)
    def import_entity(plan: dict) -> dict:
        return tasks.import_account_entity(target, entity_name, plan)

    return import_entity


_SHOP_DOC = """
Imports one Lightspeed shop's **sales** and **employee hours** into `lightspeed_staging`,
then rebuilds the T.M.A.S. buckets they touched in `lightspeed_agg`.

* Windows come from the stored watermark and the API's clock, never from Airflow's
  data interval; a run re-reads `lookback_hours` behind the watermark (late voids, edits).
* **Run now** with *Days back* = N re-imports the last N days (idempotent).
* A run started while another is running waits (max one active run).
* Authorization errors fail at once: run `lightspeed authorize` and clear the task.
"""

_ACCOUNT_DOC = """
Imports the account-wide Lightspeed entities (items, categories, employees, payment types,
shops, registers) once per account, for all its shops.
"""
