"""What each task of the shop and account DAGs does when it runs.

The DAG builder only wires these functions; they import the hook, psycopg2 and the loaders
inside their bodies, so parsing a 1,000-shop DAG file never pays for them. XCom carries
small dicts (windows, counts, ISO timestamps), never records.

Errors retrying cannot fix (authorization, config, a refused request, bad data) are turned
into AirflowFailException, so the task fails at once instead of burning its retries;
TransientAPIError and connection problems keep Airflow's retries with backoff.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lightspeed.config import Defaults, ShopConfig
from lightspeed.errors import (
    ConfigError,
    DataQualityError,
    LightspeedAPIError,
    ReauthorizeRequired,
)

log = logging.getLogger(__name__)

FATAL_ERRORS: tuple[type[Exception], ...] = (
    ReauthorizeRequired,
    ConfigError,
    LightspeedAPIError,
    DataQualityError,
)
# Modes whose whole window is rebuilt even when no row changed: the user asked for that range.
_REBUILD_WHOLE_WINDOW = {"initial", "days_back", "backfill"}


@dataclass(frozen=True)
class ShopTarget:
    """Everything a shop DAG's tasks need, fixed at parse time from the chain config."""

    conn_id: str
    warehouse_conn_id: str
    shop: ShopConfig
    defaults: Defaults


@dataclass(frozen=True)
class AccountTarget:
    conn_id: str
    warehouse_conn_id: str
    defaults: Defaults
    shop_ids: tuple[int, ...]


@dataclass(frozen=True)
class RunFacts:
    """What kind of run this is, distilled from the Airflow context."""

    run_key: str  # "<dag_id>/<run_id>": Airflow run ids repeat across DAGs, load_log rows must not
    run_type: str
    days_back: int = 0
    backfill_range: tuple[datetime, datetime] | None = None


@contextmanager
def fail_fast() -> Iterator[None]:
    """Fail the task without retries on errors whose message says what a person must do."""
    try:
        yield
    except FATAL_ERRORS as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def run_facts(context: Mapping[str, Any], interval_minutes: int) -> RunFacts:
    """Run kind, days_back and the backfill range from a task context.

    Airflow 3.3 cron runs have zero-width data intervals and manual runs none, so windows
    come from the watermark; only a backfill run reads its data interval. The builder's
    CronTriggerTimetable has `interval` = the bucket length, so a backfill run's data
    interval is the bucket that ends at its fire time (the run fired at 13:16 covers
    (12:16, 13:16]); a zero-width interval (a timetable without `interval`, where the
    logical date is the fire time) falls back to the bucket that ends at the logical date.
    """
    dag_run = context["dag_run"]
    raw_type = getattr(dag_run, "run_type", "manual")
    # A str-mixin Enum in the Task SDK: str() would give "DagRunType.BACKFILL".
    run_type = str(getattr(raw_type, "value", raw_type))
    params = context.get("params") or {}
    days_back = int(params.get("days_back") or 0)
    if not 0 <= days_back <= 365:
        raise ConfigError(f"days_back must be between 0 and 365, got {days_back}.")
    backfill_range = None
    if run_type == "backfill":
        end = context.get("data_interval_end") or context.get("logical_date")
        start = context.get("data_interval_start")
        if end is None:
            raise ConfigError("A backfill run has no logical date; create it with a date range.")
        if start is None or start >= end:
            start = end - timedelta(minutes=interval_minutes)
        backfill_range = (start, end)
        days_back = 0
    dag_id = getattr(dag_run, "dag_id", None) or context["dag"].dag_id
    return RunFacts(f"{dag_id}/{dag_run.run_id}", run_type, days_back, backfill_range)


def current_run_facts(interval_minutes: int) -> RunFacts:
    from airflow.sdk import get_current_context

    with fail_fast():
        return run_facts(get_current_context(), interval_minutes)


def ensure_schema(warehouse_conn_id: str) -> dict:
    """Apply pending warehouse migrations (idempotent, under an advisory lock)."""
    from lightspeed.db import connect
    from lightspeed.migrate import migrate

    with fail_fast():
        conn = connect(warehouse_conn_id)
        try:
            applied = migrate(conn)
        finally:
            conn.close()
    return {"applied": applied}


def plan_shop(target: ShopTarget, facts: RunFacts) -> dict:
    """Take the API's clock once and plan the sales and employee-hours windows of this run."""
    from lightspeed import entities

    names = ("SALES", "EMPLOYEE_HOURS")
    with fail_fast():
        hook = _hook(target.conn_id)
        account_id = hook.account_id
        _check_shop_exists(hook.get_shops(include_archived=True), target, account_id)
        server_now = hook.server_now()  # the Date header of the Shop request: no extra call
        windows = _plan_windows(
            target.warehouse_conn_id,
            [(name, getattr(entities, name)) for name in names],
            account_id=account_id,
            shop_id=target.shop.shop_id,
            server_now=server_now,
            defaults=target.defaults,
            facts=facts,
        )
    log.info("Shop %s run %s: windows %s", target.shop.location_id, facts.run_key, windows)
    return _plan_dict(facts, account_id, server_now, windows)


def _check_shop_exists(shops: list[dict], target: ShopTarget, account_id: int) -> None:
    """A configured shop the account does not have would import nothing, silently, forever."""
    known = sorted(int(shop["shopID"]) for shop in shops)
    if target.shop.shop_id not in known:
        raise ConfigError(
            f"Shop {target.shop.shop_id} (location {target.shop.location_id}) is not a shop of "
            f"Lightspeed account {account_id} (its shops: {', '.join(map(str, known)) or 'none'}). "
            "Fix its shop_id in the chain config or remove it; `lightspeed shops` lists them."
        )


def plan_account(target: AccountTarget, entity_names: Sequence[str], facts: RunFacts) -> dict:
    """Plan the windows of the account-wide entities (full reloads or watermark increments)."""
    from lightspeed import entities

    with fail_fast():
        hook = _hook(target.conn_id)
        server_now = hook.server_now()
        account_id = hook.account_id
        windows = _plan_windows(
            target.warehouse_conn_id,
            [(name, getattr(entities, name)) for name in entity_names],
            account_id=account_id,
            shop_id=None,
            server_now=server_now,
            defaults=target.defaults,
            facts=dataclasses.replace(facts, days_back=0, backfill_range=None),
        )
    return _plan_dict(facts, account_id, server_now, windows)


def import_shop_entity(target: ShopTarget, entity_name: str, plan: dict) -> dict:
    """Extract one shop-scoped entity over the planned window, in one warehouse transaction."""
    return _import(
        target.conn_id,
        target.warehouse_conn_id,
        entity_name,
        plan,
        shop_id=target.shop.shop_id,
        known_shop_ids={target.shop.shop_id},
        max_quarantine_ratio=target.defaults.max_quarantine_ratio,
    )


def import_account_entity(target: AccountTarget, entity_name: str, plan: dict) -> dict:
    # known_shop_ids stays None: the account may have shops this config leaves out.
    return _import(
        target.conn_id,
        target.warehouse_conn_id,
        entity_name,
        plan,
        shop_id=None,
        known_shop_ids=None,
        max_quarantine_ratio=target.defaults.max_quarantine_ratio,
    )


def rebuild_shop_aggregates(target: ShopTarget, plan: dict, results: Sequence[dict]) -> dict:
    """Rebuild the T.M.A.S. buckets of the local days this run's imports touched."""
    from lightspeed.aggregates import LocationSpec, rebuild
    from lightspeed.db import transaction

    shop = target.shop
    utc_range = rebuild_range(plan, results, shop.interval_minutes)
    spec = LocationSpec(
        location_id=shop.location_id,
        account_id=int(plan["account_id"]),
        shop_id=shop.shop_id,
        time_zone=shop.time_zone,
        interval_minutes=shop.interval_minutes,
        opening_hours=shop.opening_hours_by_weekday(),
        label=shop.label,
    )
    with fail_fast(), transaction(target.warehouse_conn_id) as conn:
        counts = rebuild(conn, spec, *utc_range)
    return {"from": utc_range[0].isoformat(), "to": utc_range[1].isoformat(), **dict(counts)}


def rebuild_range(
    plan: dict, results: Sequence[dict], interval_minutes: int
) -> tuple[datetime, datetime]:
    """The UTC range whose local days are rebuilt.

    The union of what the imports touched; the whole window for initial, days_back and
    backfill runs (the user asked for those days, changed or not); and always the bucket
    ending at the API's now, so today's buckets exist (zeros in opening hours) and open
    shifts keep counting even in a quiet hour.
    """
    server_now = _parse_time(plan["server_now"])
    points = [server_now - timedelta(minutes=interval_minutes), server_now]
    for result in results:
        for key in ("touched_from", "touched_to"):
            if result.get(key):
                points.append(_parse_time(result[key]))
    for window in plan["windows"].values():
        if window.get("mode") in _REBUILD_WHOLE_WINDOW:
            points.extend(_parse_time(window[key]) for key in ("start", "end") if window.get(key))
    return min(points), max(points)


def check_shop_run(target: ShopTarget, plan: dict, results: Sequence[dict], rebuilt: dict) -> dict:
    """Decide the run: every import logged its load, quarantine under the threshold."""
    from lightspeed import entities

    names = [getattr(entities, name).name for name in plan["windows"]]
    with fail_fast():
        summary = _check_loads(
            target.warehouse_conn_id,
            plan,
            names,
            shop_id=target.shop.shop_id,
            max_quarantine_ratio=target.defaults.max_quarantine_ratio,
        )
    summary["rebuilt"] = rebuilt
    log.info("Shop %s run %s: %s", target.shop.location_id, plan["run_key"], summary)
    return summary


def check_account_run(target: AccountTarget, plan: dict, results: Sequence[dict]) -> dict:
    from lightspeed import entities

    names = [getattr(entities, name).name for name in plan["windows"]]
    with fail_fast():
        return _check_loads(
            target.warehouse_conn_id,
            plan,
            names,
            shop_id=0,
            max_quarantine_ratio=target.defaults.max_quarantine_ratio,
        )


def _hook(conn_id: str) -> Any:
    from lightspeed.hook import LightspeedHook

    return LightspeedHook(lightspeed_conn_id=conn_id)


def _plan_windows(
    warehouse_conn_id: str,
    named_entities: Sequence[tuple[str, Any]],
    *,
    account_id: int,
    shop_id: int | None,
    server_now: datetime,
    defaults: Defaults,
    facts: RunFacts,
) -> dict[str, dict]:
    from lightspeed.db import transaction
    from lightspeed.windows import plan_window

    windows = {}
    with transaction(warehouse_conn_id) as conn:
        for name, entity in named_entities:
            window = plan_window(
                conn,
                entity,
                account_id=account_id,
                shop_id=shop_id,
                server_now=server_now,
                lookback=timedelta(hours=defaults.lookback_hours),
                initial_days=defaults.initial_days,
                days_back=facts.days_back,
                backfill_range=facts.backfill_range,
            )
            windows[name] = window_to_dict(window)
    return windows


def _plan_dict(
    facts: RunFacts, account_id: int, server_now: datetime, windows: dict[str, dict]
) -> dict:
    return {
        "run_key": facts.run_key,
        "run_type": facts.run_type,
        "days_back": facts.days_back,
        "account_id": int(account_id),
        "server_now": server_now.isoformat(),
        "windows": windows,
    }


def _import(
    conn_id: str,
    warehouse_conn_id: str,
    entity_name: str,
    plan: dict,
    *,
    shop_id: int | None,
    known_shop_ids: set[int] | None,
    max_quarantine_ratio: float,
) -> dict:
    from lightspeed import entities
    from lightspeed.db import transaction
    from lightspeed.extract import extract_entity

    entity = getattr(entities, entity_name)
    window = window_from_dict(plan["windows"][entity_name])
    with fail_fast():
        hook = _hook(conn_id)
        # extract_entity owns its transaction; the context manager only guarantees close.
        with transaction(warehouse_conn_id) as conn:
            result = extract_entity(
                hook,
                conn,
                entity,
                shop_id=shop_id,
                window=window,
                run_id=plan["run_key"],
                known_shop_ids=known_shop_ids,
                max_quarantine_ratio=max_quarantine_ratio,
            )
    summary = _jsonable(result.as_dict())
    log.info("Imported %s (shop %s): %s", entity_name, shop_id, summary)
    return summary


def _check_loads(
    warehouse_conn_id: str,
    plan: dict,
    entity_names: Sequence[str],
    *,
    shop_id: int,
    max_quarantine_ratio: float,
) -> dict:
    from lightspeed.db import transaction

    with transaction(warehouse_conn_id) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT entity, sum(fetched), sum(upserted), sum(deleted), sum(quarantined) "
            "FROM lightspeed_staging.load_log "
            "WHERE run_id = %s AND account_id = %s AND shop_id = %s GROUP BY entity",
            (plan["run_key"], plan["account_id"], shop_id),
        )
        loads = {
            row[0]: {
                "fetched": row[1],
                "upserted": row[2],
                "deleted": row[3],
                "quarantined": row[4],
            }
            for row in cur.fetchall()
        }
    missing = sorted(set(entity_names) - set(loads))
    if missing:
        raise DataQualityError(
            f"Run {plan['run_key']} has no load_log row for {', '.join(missing)}: the import did "
            "not commit. Check the import task's log, then clear the DAG run."
        )
    fetched = sum(int(load["fetched"]) for load in loads.values())
    quarantined = sum(int(load["quarantined"]) for load in loads.values())
    if fetched and quarantined / fetched > max_quarantine_ratio:
        raise DataQualityError(
            f"Run {plan['run_key']} quarantined {quarantined} of {fetched} records "
            f"(threshold {max_quarantine_ratio:.1%}). Read the reasons in "
            "lightspeed_staging.quarantine, fix the cause, then clear the DAG run."
        )
    return {
        "loads": {name: {k: int(v) for k, v in load.items()} for name, load in loads.items()},
        "fetched": fetched,
        "quarantined": quarantined,
    }


def window_to_dict(window: Any) -> dict:
    """A Window as small JSON for XCom (ISO timestamps)."""
    raw = window.as_dict() if hasattr(window, "as_dict") else dataclasses.asdict(window)
    return _jsonable(raw)


def window_from_dict(data: dict) -> Any:
    from lightspeed.windows import Window

    if hasattr(Window, "from_dict"):
        return Window.from_dict(data)
    values = {
        key: _parse_time(value) if key in ("start", "end") and value else value
        for key, value in data.items()
    }
    return Window(**values)


def _jsonable(data: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Mapping):
            value = _jsonable(value)
        out[key] = value
    return out


def _parse_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
