"""Task callables for the dag-factory version of the shop and account DAGs (bench.dag_parse).

dag-factory builds tasks from YAML, so a task can only receive what YAML can say: the shop
ID, an entity name, another task's output. These wrappers find the rest in the chain config
when they run and call the same `lightspeed.tasks` functions as the real DAGs. Parsing
never calls them; they exist so the YAML DAGs are real, runnable DAGs of the same shape.
"""

from __future__ import annotations

from typing import Any

from lightspeed import tasks
from lightspeed.config import AccountConfig, ChainConfig, load_config


def _chain() -> ChainConfig:
    return load_config()


def _shop_target(shop_id: int) -> tasks.ShopTarget:
    chain = _chain()
    for account in chain.accounts:
        for shop in account.shops:
            if shop.shop_id == shop_id:
                return tasks.ShopTarget(
                    account.conn_id, chain.warehouse_conn_id, shop, chain.defaults
                )
    raise LookupError(f"shop {shop_id} is not in the chain config")


def _account_target(conn_id: str) -> tasks.AccountTarget:
    chain = _chain()
    account: AccountConfig = next(a for a in chain.accounts if a.conn_id == conn_id)
    return tasks.AccountTarget(
        conn_id,
        chain.warehouse_conn_id,
        chain.defaults,
        tuple(shop.shop_id for shop in account.shops),
    )


def ensure_schema(warehouse_conn_id: str) -> dict:
    return tasks.ensure_schema(warehouse_conn_id)


def plan_shop(shop_id: int) -> dict:
    target = _shop_target(shop_id)
    return tasks.plan_shop(target, tasks.current_run_facts(target.shop.interval_minutes))


def import_shop_entity(shop_id: int, entity_name: str, plan: dict) -> dict:
    return tasks.import_shop_entity(_shop_target(shop_id), entity_name, plan)


def rebuild_aggregates(shop_id: int, plan: dict, sales: dict, hours: dict) -> dict:
    return tasks.rebuild_shop_aggregates(_shop_target(shop_id), plan, [sales, hours])


def check_shop(shop_id: int, plan: dict, sales: dict, hours: dict, rebuilt: dict) -> dict:
    return tasks.check_shop_run(_shop_target(shop_id), plan, [sales, hours], rebuilt)


def plan_account(conn_id: str, entity_names: list[str]) -> dict:
    return tasks.plan_account(_account_target(conn_id), entity_names, tasks.current_run_facts(60))


def import_account_entity(conn_id: str, entity_name: str, plan: dict) -> dict:
    return tasks.import_account_entity(_account_target(conn_id), entity_name, plan)


def check_account(conn_id: str, plan: dict) -> dict[str, Any]:
    # dag-factory passes one task's output per argument; the imports' own results stay in
    # XCom and the check reads load_log, as the real check does.
    return tasks.check_account_run(_account_target(conn_id), plan, [])
