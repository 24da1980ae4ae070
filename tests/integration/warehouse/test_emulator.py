"""The real hook against the real emulator over HTTP, into the real PostgreSQL.

The issue's "done when": a first run plus ten incremental runs, with the emulator's clock
advanced and records edited upstream in between, leaves the same warehouse as one full
reload of the final state, row for row (typed columns and raw; loaded_at and run_id aside).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
from warehouse_helpers import Boom, comparable, snapshot

from lightspeed import entities
from lightspeed.extract import ExtractResult, extract_entity
from lightspeed.windows import plan_window

SHOP_IDS = (1, 2)
EVERYTHING = 30  # days: more than the emulator's history plus the advanced clock


def run_all(
    emulated: Any,
    dsn: str,
    run_id: str,
    *,
    initial_days: int = 3,
    days_back: int = 0,
    only: tuple[entities.Entity, ...] = entities.ALL_ENTITIES,
) -> dict[tuple[str, int | None], ExtractResult]:
    """One scheduled run: every entity of the account and of each shop, like the DAGs do."""
    hook = emulated.hook()  # a fresh hook per run, as each Airflow task has
    server_now = hook.server_now()
    conn = psycopg2.connect(dsn)
    results = {}
    try:
        for entity in only:
            for shop_id in SHOP_IDS if entity.scope == "shop" else (None,):
                window = plan_window(
                    conn,
                    entity,
                    account_id=hook.account_id,
                    shop_id=shop_id,
                    server_now=server_now,
                    initial_days=initial_days,
                    days_back=days_back,
                )
                conn.rollback()
                results[entity.name, shop_id] = extract_entity(
                    hook,
                    conn,
                    entity,
                    shop_id=shop_id,
                    window=window,
                    run_id=run_id,
                    known_shop_ids=set(SHOP_IDS),
                )
    finally:
        conn.close()
    return results


def query(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def test_increments_with_upstream_edits_equal_one_full_reload(
    emulated, warehouse_dsn: str, second_warehouse: str
) -> None:
    resources = emulated.server.resources
    first = run_all(emulated, warehouse_dsn, "run-00", initial_days=EVERYTHING)
    assert first["sale", 1].fetched > 100 and first["employee_hours", 2].fetched > 5
    assert all(r.quarantined == 0 for r in first.values())

    # The same clock again: nothing changes (open shifts only move their extracted_at).
    again = run_all(emulated, warehouse_dsn, "run-00-again")
    for (name, shop_id), result in again.items():
        assert result.deleted == 0 and result.quarantined == 0, (name, shop_id)
        assert result.upserted == 0 or name == "employee_hours", (name, shop_id)

    not_voided = {
        sale_id
        for (sale_id,) in query(
            warehouse_dsn, "SELECT sale_id FROM lightspeed_staging.sale WHERE NOT voided"
        )
    }
    voided_sale = max(s for s in not_voided if s % 10**7 // 10**4 == 1)  # a shop-1 sale
    (renamed_item,) = query(warehouse_dsn, "SELECT min(item_id) FROM lightspeed_staging.item")[0]
    (voided_completed,) = query(
        warehouse_dsn, "SELECT complete_time FROM lightspeed_staging.sale WHERE sale_id = %s",
        (voided_sale,),
    )[0]  # fmt: skip
    changed = 0
    touched: list = []
    for number in range(1, 11):
        emulated.advance(3)  # three data hours: new sales, shifts, late voids and fixes
        if number == 2:
            resources.mutate("Sale", voided_sale, {"voided": "true"})
        if number == 4:
            deleted_shift = _delete_a_loaded_shift(resources, warehouse_dsn)
        if number == 6:
            resources.mutate("Item", renamed_item, {"description": "Renamed tent"})
        results = run_all(emulated, warehouse_dsn, f"run-{number:02d}")
        if number == 2:  # the void reports the sale's (older) business time for aggregates
            assert results["sale", 1].touched_from <= voided_completed
        changed += sum(r.upserted + r.deleted for r in results.values())
        touched += [r.touched_from for r in results.values() if r.touched_from]
        assert all(r.window.mode in ("incremental", "full") for r in results.values())
    assert changed > 50

    assert query(warehouse_dsn, "SELECT voided FROM lightspeed_staging.sale WHERE sale_id = %s",
                 (voided_sale,)) == [(True,)]  # fmt: skip
    assert query(warehouse_dsn, "SELECT 1 FROM lightspeed_staging.employee_hours "
                 "WHERE employee_hours_id = %s", (deleted_shift,)) == []  # fmt: skip
    assert query(warehouse_dsn, "SELECT description FROM lightspeed_staging.item "
                 "WHERE item_id = %s", (renamed_item,)) == [("Renamed tent",)]  # fmt: skip
    # The emulator's own next-day voids of sales loaded before them (how many depends on
    # the generator) were picked up too, with their business time reported.
    late = query(
        warehouse_dsn,
        "SELECT sale_id, complete_time FROM lightspeed_staging.sale "
        "WHERE voided AND sale_id = ANY(%s) AND sale_id <> %s",
        (sorted(not_voided), voided_sale),
    )
    if late:
        assert min(touched) <= min(when for _, when in late)

    reload = run_all(emulated, second_warehouse, "full-reload", days_back=EVERYTHING)
    assert all(r.window.mode == "days_back" for r in reload.values() if r.window.field)

    a, b = psycopg2.connect(warehouse_dsn), psycopg2.connect(second_warehouse)
    try:
        incremental, full = comparable(a), comparable(b)
        for table in incremental:
            assert len(incremental[table]) == len(full[table]), table
            assert incremental[table] == full[table], table
        assert len(full["sale_line"]) > 1000 and len(full["employee_hours"]) > 30
        _backfill_changes_nothing(emulated, a)
    finally:
        a.close()
        b.close()


def _delete_a_loaded_shift(resources: Any, dsn: str) -> int:
    """Hard-delete upstream a closed shift the warehouse holds (one the generator has not
    deleted itself in the meantime)."""
    candidates = query(
        dsn,
        "SELECT employee_hours_id FROM lightspeed_staging.employee_hours "
        "WHERE shop_id = 2 AND check_out IS NOT NULL ORDER BY check_in DESC LIMIT 10",
    )
    for (shift_id,) in candidates:
        try:
            resources.mutate("EmployeeHours", shift_id, None)
        except LookupError:
            continue
        return shift_id
    raise AssertionError(f"none of the loaded shifts {candidates} exists upstream")


def _backfill_changes_nothing(emulated: Any, conn: psycopg2.extensions.connection) -> None:
    """An Airflow backfill over days already loaded: same rows, same watermarks."""
    hook = emulated.hook()
    now = hook.server_now()
    before = snapshot(conn, exclude=("id", "finished_at", "quarantined_at"))
    for entity in entities.SHOP_ENTITIES:
        window = plan_window(
            conn,
            entity,
            account_id=hook.account_id,
            shop_id=1,
            server_now=now,
            backfill_range=(now - timedelta(days=3), now - timedelta(days=1)),
        )
        result = extract_entity(hook, conn, entity, shop_id=1, window=window, run_id="backfill")
        assert result.window.mode == "backfill" and result.fetched > 0
        assert (result.upserted, result.deleted) == (0, 0)
    after = snapshot(conn, exclude=("id", "finished_at", "quarantined_at"))
    assert len(after.pop("load_log")) == len(before.pop("load_log")) + 2
    assert after == before  # watermarks included


def test_a_failure_after_some_pages_of_the_real_api_changes_nothing(
    emulated, warehouse_dsn: str
) -> None:
    run_all(emulated, warehouse_dsn, "first", only=(entities.SALES,))
    emulated.advance(40)
    hook = emulated.hook()
    pages_seen = []
    real_paginate = hook.paginate

    def failing(entity: str, params: dict) -> Any:
        for page in real_paginate(entity, params):
            pages_seen.append(len(page))
            if len(pages_seen) == 3:
                raise Boom("worker lost after 2 pages")
            yield page

    hook.paginate = failing
    conn = psycopg2.connect(warehouse_dsn)
    try:
        before = snapshot(conn)
        window = plan_window(
            conn,
            entities.SALES,
            account_id=hook.account_id,
            shop_id=1,
            server_now=hook.server_now(),
            days_back=EVERYTHING,
        )
        with pytest.raises(Boom):
            extract_entity(hook, conn, entities.SALES, shop_id=1, window=window, run_id="x",
                           flush_rows=50)  # fmt: skip
        assert snapshot(conn) == before
    finally:
        conn.close()
    assert len(pages_seen) == 3 and pages_seen[0] == 100
