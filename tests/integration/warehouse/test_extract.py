"""extract_entity against the real PostgreSQL, with an in-memory API (warehouse_helpers).

Each test states a behaviour a warehouse user would notice: rows, counts, watermarks, and
that a failed run leaves everything as it was.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg2.extensions
import pytest
from warehouse_helpers import (
    T0,
    Boom,
    FakeLightspeed,
    make_hours,
    make_sale,
    make_shop,
    snapshot,
)

from lightspeed import entities
from lightspeed.errors import DataQualityError
from lightspeed.extract import extract_entity
from lightspeed.windows import Window, plan_window, read_watermark

SHOPS = {1, 2}


def run(
    api: FakeLightspeed,
    conn: psycopg2.extensions.connection,
    entity: entities.Entity = entities.SALES,
    *,
    shop_id: int | None = 1,
    run_id: str = "run",
    window: Window | None = None,
    **kwargs,
):
    window = window or plan_window(
        conn,
        entity,
        account_id=api.account_id,
        shop_id=shop_id,
        server_now=api.server_now(),
    )
    conn.rollback()
    return extract_entity(
        api,
        conn,
        entity,
        shop_id=shop_id,
        window=window,
        run_id=run_id,
        known_shop_ids=SHOPS,
        **kwargs,
    )


def rows(conn: psycopg2.extensions.connection, query: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query)
        result = cur.fetchall()
    conn.rollback()
    return result


def test_first_run_loads_and_a_rerun_changes_nothing(api, conn) -> None:
    for sale_id in (1, 2, 3):
        api.put("Sale", make_sale(sale_id))
    api.put("Sale", make_sale(4, shop_id=2))  # another shop: not requested
    first = run(api, conn)
    assert (first.fetched, first.upserted, first.unchanged, first.quarantined) == (3, 3, 0, 0)
    assert first.window.mode == "initial" and first.window.field == "completeTime"
    assert first.touched_from == first.touched_to == T0 - timedelta(hours=1)
    assert rows(conn, "SELECT count(*) FROM lightspeed_staging.sale_line") == [(6,)]
    assert read_watermark(conn, entities.SALES, account_id=7, shop_id=1) == T0
    before = snapshot(conn)

    second = run(api, conn, run_id="run-2")
    assert second.window.mode == "incremental" and second.window.field == "timeStamp"
    assert (second.upserted, second.unchanged, second.deleted) == (0, 3, 0)
    assert second.touched_from is None and second.touched_to is None
    after = snapshot(conn)
    assert after["sale"] == before["sale"] and after["sale_line"] == before["sale_line"]
    assert len(after["load_log"]) == 2
    assert api.calls[0][1]["completed"] == "true"
    assert api.calls[0][1]["load_relations"] == ["SaleLines", "SalePayments"]


def test_void_and_removed_line_are_applied_and_touch_the_sale_time(api, conn) -> None:
    completed = T0 - timedelta(hours=5)
    api.put("Sale", make_sale(1, completed_at=completed))
    api.put("Sale", make_sale(2))
    run(api, conn)

    api.now = T0 + timedelta(hours=1)
    api.put(
        "Sale",
        make_sale(
            1, completed_at=completed, time_stamp=api.now, voided=True, lines=[(11, "10.00")]
        ),
    )
    result = run(api, conn, run_id="edit")
    assert (result.upserted, result.unchanged) == (1, 1)
    assert result.tables["sale_line"]["deleted"] == 1
    assert result.touched_from == result.touched_to == completed
    assert rows(conn, "SELECT voided, calc_subtotal, run_id FROM lightspeed_staging.sale "
                "WHERE sale_id = 1") == [(True, 10, "edit")]  # fmt: skip
    assert rows(conn, "SELECT sale_line_id FROM lightspeed_staging.sale_line "
                "WHERE sale_id = 1") == [(11,)]  # fmt: skip


def test_an_older_version_never_overwrites_a_newer_one(api, conn) -> None:
    new = make_sale(1, time_stamp=T0, lines=[(11, "1.00")])
    api.put("Sale", new)
    run(api, conn)
    api.put("Sale", make_sale(1, time_stamp=T0 - timedelta(hours=2)))  # a slow, older read
    result = run(api, conn, window=Window("completeTime", T0 - timedelta(days=1), T0, "days_back"))
    assert (result.upserted, result.unchanged, result.deleted) == (0, 1, 0)
    assert rows(conn, "SELECT sale_line_id FROM lightspeed_staging.sale_line") == [(11,)]


def test_the_same_sale_twice_in_one_read_keeps_the_newest(api, conn) -> None:
    api.put("Sale", make_sale(1, time_stamp=T0 - timedelta(minutes=5), lines=[(11, "1.00")]))
    api.bad["Sale"] = [make_sale(1, time_stamp=T0 - timedelta(minutes=9))]
    result = run(api, conn)
    assert (result.fetched, result.upserted, result.unchanged) == (2, 1, 1)
    assert rows(conn, "SELECT sale_line_id FROM lightspeed_staging.sale_line") == [(11,)]


def test_a_run_failing_half_way_changes_nothing(api, conn) -> None:
    for sale_id in range(1, 11):
        api.put("Sale", make_sale(sale_id))
    run(api, conn)
    before = snapshot(conn)

    api.now = T0 + timedelta(hours=1)
    for sale_id in range(1, 11):
        api.put("Sale", make_sale(sale_id, time_stamp=api.now, voided=True))
    api.page_size, api.fail_after_pages = 3, 2
    with pytest.raises(Boom):
        run(api, conn, run_id="crash", flush_rows=1)  # COPY after every record
    assert snapshot(conn) == before
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE

    api.fail_after_pages = None
    assert run(api, conn, run_id="retry").upserted == 10


def test_employee_hours_deleted_upstream_disappear_within_the_window(api, conn) -> None:
    api.put("EmployeeHours", make_hours(1, check_in=T0 - timedelta(hours=8), check_out=T0))
    api.put("EmployeeHours", make_hours(2, check_in=T0 - timedelta(hours=2), check_out=None))
    api.put("EmployeeHours", make_hours(3, check_in=T0 - timedelta(days=2, hours=1), check_out=T0))
    first = run(api, conn, entities.EMPLOYEE_HOURS)
    assert first.window.mode == "initial" and first.upserted == 3
    assert rows(conn, "SELECT extracted_at FROM lightspeed_staging.employee_hours "
                "WHERE employee_hours_id = 2") == [(T0,)]  # fmt: skip

    api.now = T0 + timedelta(hours=6)  # within the trailing window: 3 is outside (> 2 days)
    api.delete("EmployeeHours", 1)
    api.delete("EmployeeHours", 3)
    second = run(api, conn, entities.EMPLOYEE_HOURS, run_id="second")
    assert second.window.mode == "incremental" and second.window.field == "checkIn"
    assert second.window.start == T0 - timedelta(hours=48)  # watermark minus lookback
    assert second.deleted == 1
    assert second.upserted == 1  # the open shift counts up to the new extracted_at
    assert second.touched_from == T0 - timedelta(hours=8)
    assert rows(
        conn,
        "SELECT employee_hours_id, extracted_at FROM lightspeed_staging.employee_hours ORDER BY 1",
    ) == [  # fmt: skip
        (2, api.now),
        (3, T0),  # outside the re-read window: its deletion is not seen by an increment
    ]


def test_quarantine_below_the_threshold_loads_the_rest(api, conn) -> None:
    for sale_id in range(1, 201):
        api.put("Sale", make_sale(sale_id))
    broken = make_sale(999)
    broken["calcSubtotal"] = "lots"
    api.bad["Sale"] = [broken]
    result = run(api, conn)
    assert (result.fetched, result.upserted, result.quarantined) == (201, 200, 1)
    assert rows(
        conn,
        "SELECT record_key, reason, raw->>'calcSubtotal', run_id "
        "FROM lightspeed_staging.quarantine",
    ) == [  # fmt: skip
        ("999", "calcSubtotal is not a number: 'lots'", "lots", "run")
    ]


def test_quarantine_above_the_threshold_fails_and_keeps_only_the_evidence(api, conn) -> None:
    for sale_id in range(1, 11):
        api.put("Sale", make_sale(sale_id))
    api.bad["Sale"] = [make_sale(20, shop_id=3), {"saleID": "21"}, "not a record"]
    before = snapshot(conn, exclude=("id", "quarantined_at"))
    with pytest.raises(DataQualityError, match=r"3 of 13 records failed validation") as error:
        run(api, conn, run_id="bad")
    assert "lightspeed_staging.quarantine" in str(error.value)
    after = snapshot(conn, exclude=("id", "quarantined_at"))
    assert {k: v for k, v in after.items() if k != "quarantine"} == {
        k: v for k, v in before.items() if k != "quarantine"
    }
    reasons = rows(conn, "SELECT record_key, reason FROM lightspeed_staging.quarantine ORDER BY id")
    assert reasons == [
        ("20", "sale belongs to shop 3, but shop 1 was requested"),
        ("21", "missing shopID"),
        (None, "record is not an object: 'not a record'"),
    ]
    assert read_watermark(conn, entities.SALES, account_id=7, shop_id=1) is None


def test_absolute_quarantine_limit_is_configurable(api, conn) -> None:
    for sale_id in range(1, 101):
        api.put("Sale", make_sale(sale_id))
    api.bad["Sale"] = [{"saleID": "500"}]
    with pytest.raises(DataQualityError):
        run(api, conn, max_quarantined=0)
    assert run(api, conn, max_quarantine_ratio=0.05).upserted == 100


def test_backfill_over_loaded_range_changes_nothing_and_keeps_the_watermark(api, conn) -> None:
    for hours_ago in range(1, 30):
        api.put("Sale", make_sale(hours_ago, completed_at=T0 - timedelta(hours=hours_ago)))
    run(api, conn)
    api.now = T0 + timedelta(hours=1)
    run(api, conn, run_id="incremental")
    before = snapshot(conn, exclude=("id", "finished_at"))
    mark = read_watermark(conn, entities.SALES, account_id=7, shop_id=1)

    backfill = plan_window(
        conn,
        entities.SALES,
        account_id=7,
        shop_id=1,
        server_now=api.now,
        backfill_range=(T0 - timedelta(days=1), T0 - timedelta(hours=12)),
    )
    result = run(api, conn, run_id="backfill", window=backfill)
    assert result.window.mode == "backfill" and result.fetched == 13
    assert (result.upserted, result.deleted) == (0, 0)
    after = snapshot(conn, exclude=("id", "finished_at"))
    assert {k: v for k, v in after.items() if k != "load_log"} == {
        k: v for k, v in before.items() if k != "load_log"
    }
    assert read_watermark(conn, entities.SALES, account_id=7, shop_id=1) == mark == api.now


def test_full_reload_marks_vanished_shops_archived(api, conn) -> None:
    for shop_id in (1, 2, 3):
        api.put("Shop", make_shop(shop_id))
    first = run(api, conn, entities.SHOPS, shop_id=None)
    assert first.window.mode == "full" and first.upserted == 3
    api.delete("Shop", 3)
    second = run(api, conn, entities.SHOPS, shop_id=None, run_id="second")
    assert (second.upserted, second.unchanged, second.deleted) == (0, 2, 1)
    assert rows(conn, "SELECT shop_id, archived FROM lightspeed_staging.shop ORDER BY 1") == [
        (1, False),
        (2, False),
        (3, True),
    ]
    api.records["Shop"].clear()  # an empty full reload archives nothing
    assert run(api, conn, entities.SHOPS, shop_id=None, run_id="third").deleted == 0


def test_item_prices_are_replaced_with_the_item(api, conn) -> None:
    item = {
        "itemID": "5",
        "description": "Tent",
        "timeStamp": (T0 - timedelta(days=3)).isoformat(),
        "Prices": [
            {"amount": "100", "useTypeID": "1", "useType": "Default"},
            {"amount": "120", "useTypeID": "2", "useType": "MSRP"},
        ],
    }
    api.put("Item", item)
    first = run(api, conn, entities.ITEMS, shop_id=None)
    assert first.window.mode == "initial" and first.window.start is None
    api.now = T0 + timedelta(hours=1)
    api.put("Item", {**item, "timeStamp": api.now.isoformat(), "Prices": item["Prices"][:1]})
    second = run(api, conn, entities.ITEMS, shop_id=None, run_id="second")
    assert second.upserted == 1 and second.tables["item_price"]["deleted"] == 1
    assert rows(conn, "SELECT use_type_id, amount FROM lightspeed_staging.item_price") == [(1, 100)]
