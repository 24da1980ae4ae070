"""The shops table: the chain config joined with Airflow's runs and the warehouse's load log.

Three sources, each read once per page whatever the number of shops: the chain config (what
should run), Airflow's metadata DB through the API server's own session (last run, next run,
paused), and the warehouse (`lightspeed_staging.load_log` per run: records imported; shop
names from `lightspeed_staging.shop`). A warehouse that cannot be reached blanks the record
counts and says why; it does not take the page down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from lightspeed.config import ChainConfig, ShopConfig

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True)
class LastRun:
    run_id: str
    state: str
    run_type: str
    run_after: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    triggered_by_user: str | None = None


@dataclass(frozen=True)
class DagInfo:
    """What Airflow knows about one shop DAG."""

    dag_id: str
    is_paused: bool
    next_run: datetime | None
    has_import_errors: bool
    last_run: LastRun | None


@dataclass(frozen=True)
class RunRecords:
    """What one run wrote to the warehouse (sums over its entities in load_log)."""

    fetched: int
    upserted: int
    deleted: int
    quarantined: int
    entities: dict[str, int] = field(default_factory=dict)  # entity -> upserted


@dataclass(frozen=True)
class ShopRow:
    conn_id: str
    shop_id: int
    name: str
    time_zone: str
    location_id: str
    sensor: str
    interval_minutes: int
    schedule: str
    dag_id: str
    dag: DagInfo | None
    records: RunRecords | None

    @property
    def run_key(self) -> str | None:
        """The warehouse's id of the last run (`<dag_id>/<run_id>`, see lightspeed.tasks)."""
        return (
            f"{self.dag_id}/{self.dag.last_run.run_id}" if self.dag and self.dag.last_run else None
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_key"] = self.run_key
        return data


def shop_rows(
    config: ChainConfig,
    dags: Mapping[str, DagInfo],
    records: Mapping[str, RunRecords],
    names: Mapping[tuple[str, int], str],
    visible: Iterable[str] | None = None,
) -> list[ShopRow]:
    """One row per enabled shop whose DAG the user may read, in config order.

    Args:
        config: the chain config.
        dags: DagInfo by dag_id (`dag_infos`); a DAG not there is not parsed yet.
        records: RunRecords by run key (`run_records`).
        names: Lightspeed shop names by (conn_id, shop_id) (`shop_names`).
        visible: DAG ids the user may read; None = all.
    """
    from lightspeed.dag_builder import cron_for

    allowed = set(visible) if visible is not None else None
    rows = []
    for account in config.accounts:
        for shop in account.enabled_shops:
            if allowed is not None and shop.dag_id not in allowed:
                continue
            dag = dags.get(shop.dag_id)
            row = ShopRow(
                conn_id=account.conn_id,
                shop_id=shop.shop_id,
                name=names.get((account.conn_id, shop.shop_id)) or _label(shop),
                time_zone=shop.time_zone,
                location_id=shop.location_id,
                sensor=shop.sensor,
                interval_minutes=shop.interval_minutes,
                schedule=f"{cron_for(shop.location_id, shop.interval_minutes)} (UTC)",
                dag_id=shop.dag_id,
                dag=dag,
                records=None,
            )
            key = row.run_key
            rows.append(replace(row, records=records.get(key)) if key else row)
    return rows


def _label(shop: ShopConfig) -> str:
    return shop.label or f"Shop {shop.shop_id}"


# -- Airflow's metadata DB -------------------------------------------------------------------


def dag_infos(session: Any, dag_ids: Iterable[str]) -> dict[str, DagInfo]:
    """Paused flag, next run and latest run of each DAG, in two queries.

    "Latest" is the most recently created run (highest id), which is what a user who just
    pressed Run now expects to see, whatever its logical date.
    """
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    wanted = sorted(set(dag_ids))
    if not wanted:
        return {}
    models = session.execute(
        select(
            DagModel.dag_id,
            DagModel.is_paused,
            DagModel.next_dagrun_create_after,
            DagModel.has_import_errors,
        ).where(DagModel.dag_id.in_(wanted), ~DagModel.is_stale)
    ).all()
    latest_ids = (
        select(func.max(DagRun.id)).where(DagRun.dag_id.in_(wanted)).group_by(DagRun.dag_id)
    )
    runs = {
        run.dag_id: LastRun(
            run_id=run.run_id,
            state=str(run.state.value if hasattr(run.state, "value") else run.state),
            run_type=str(run.run_type.value if hasattr(run.run_type, "value") else run.run_type),
            run_after=run.run_after,
            start_date=run.start_date,
            end_date=run.end_date,
            triggered_by_user=getattr(run, "triggering_user_name", None),
        )
        for run in session.scalars(select(DagRun).where(DagRun.id.in_(latest_ids)))
    }
    return {
        dag_id: DagInfo(
            dag_id=dag_id,
            is_paused=bool(is_paused),
            next_run=None if is_paused else next_run,
            has_import_errors=bool(import_errors),
            last_run=runs.get(dag_id),
        )
        for dag_id, is_paused, next_run, import_errors in models
    }


# -- the warehouse ---------------------------------------------------------------------------


def run_records(conn: Any, run_keys: Iterable[str]) -> dict[str, RunRecords]:
    """What each run wrote, from lightspeed_staging.load_log (one row per run and entity)."""
    keys = sorted(set(run_keys))
    if not keys:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT run_id, entity, sum(fetched), sum(upserted), sum(deleted), sum(quarantined) "
            "FROM lightspeed_staging.load_log WHERE run_id = ANY(%s) GROUP BY run_id, entity",
            (keys,),
        )
        rows = cur.fetchall()
    totals: dict[str, dict[str, Any]] = {}
    for run_id, entity, fetched, upserted, deleted, quarantined in rows:
        acc = totals.setdefault(
            run_id, {"fetched": 0, "upserted": 0, "deleted": 0, "quarantined": 0, "entities": {}}
        )
        acc["fetched"] += int(fetched)
        acc["upserted"] += int(upserted)
        acc["deleted"] += int(deleted)
        acc["quarantined"] += int(quarantined)
        acc["entities"][entity] = int(upserted)
    return {run_id: RunRecords(**acc) for run_id, acc in totals.items()}


def shop_names(conn: Any) -> dict[tuple[str, int], str]:
    """Lightspeed's shop names by (conn_id, shop_id), once the account DAG imported them.

    The token store says which account a connection is authorized for; staging keys shops
    by account. Both tables live in the warehouse unless the connection keeps its tokens
    elsewhere, in which case the config labels are shown instead.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT t.conn_id, s.shop_id, s.name FROM lightspeed_auth.token_set t "
            "JOIN lightspeed_staging.shop s ON s.account_id = t.account_id"
        )
        return {(conn_id, int(shop_id)): name for conn_id, shop_id, name in cur.fetchall()}


def is_terminal(state: str | None) -> bool:
    return state in TERMINAL_STATES
