"""plan_window: windows from the stored watermark and the API's clock (never Airflow's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2.extensions
import pytest

from lightspeed import entities
from lightspeed.load import write_watermark
from lightspeed.windows import Window, plan_window

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def plan(conn: psycopg2.extensions.connection, entity: entities.Entity, **kwargs) -> Window:
    shop_id = 1 if entity.scope == "shop" else None
    return plan_window(conn, entity, account_id=7, shop_id=shop_id, server_now=NOW, **kwargs)


def store(conn: psycopg2.extensions.connection, entity: entities.Entity, when: datetime) -> None:
    with conn.cursor() as cur:
        write_watermark(
            cur,
            account_id=7,
            entity=entity,
            shop_id=1 if entity.scope == "shop" else None,
            high_water=when,
            run_id="r",
        )
    conn.commit()


def test_first_run_reads_initial_days_on_the_range_field(conn) -> None:
    window = plan(conn, entities.SALES)
    assert window == Window("completeTime", NOW - timedelta(days=3), NOW, "initial")
    assert window.params() == {"completeTime": ("><", NOW - timedelta(days=3), NOW)}
    assert plan(conn, entities.SALES, initial_days=10).start == NOW - timedelta(days=10)


def test_account_dimension_first_run_reads_everything_so_far(conn) -> None:
    window = plan(conn, entities.ITEMS)
    assert window == Window("timeStamp", None, NOW, "initial")
    assert window.params() == {"timeStamp": ("<=", NOW)}


def test_incremental_reads_from_watermark_minus_lookback_on_the_cursor(conn) -> None:
    store(conn, entities.SALES, NOW - timedelta(hours=1))
    window = plan(conn, entities.SALES)
    assert window == Window("timeStamp", NOW - timedelta(hours=49), NOW, "incremental")
    window = plan(conn, entities.SALES, lookback=timedelta(minutes=10))
    assert window.start == NOW - timedelta(hours=1, minutes=10)


def test_other_shops_and_accounts_have_their_own_watermark(conn) -> None:
    store(conn, entities.SALES, NOW - timedelta(hours=1))
    other = plan_window(conn, entities.SALES, account_id=7, shop_id=2, server_now=NOW)
    assert other.mode == "initial"
    other = plan_window(conn, entities.SALES, account_id=8, shop_id=1, server_now=NOW)
    assert other.mode == "initial"


def test_employee_hours_always_reread_a_trailing_checkin_window(conn) -> None:
    store(conn, entities.EMPLOYEE_HOURS, NOW - timedelta(minutes=15))
    window = plan(conn, entities.EMPLOYEE_HOURS, lookback=timedelta(hours=1))
    assert window == Window("checkIn", NOW - timedelta(days=2), NOW, "incremental")
    store(conn, entities.EMPLOYEE_HOURS, NOW - timedelta(minutes=1))  # watermark moves on
    store(conn, entities.EMPLOYEE_HOURS, NOW - timedelta(days=5))  # never backwards
    window = plan(conn, entities.EMPLOYEE_HOURS, lookback=timedelta(hours=1))
    assert window.start == NOW - timedelta(days=2)


def test_employee_hours_after_a_long_pause_read_from_the_watermark(conn) -> None:
    store(conn, entities.EMPLOYEE_HOURS, NOW - timedelta(days=6))
    window = plan(conn, entities.EMPLOYEE_HOURS)
    assert window.start == NOW - timedelta(days=8)


def test_days_back_and_backfill_win_over_the_watermark(conn) -> None:
    store(conn, entities.SALES, NOW - timedelta(hours=1))
    assert plan(conn, entities.SALES, days_back=7) == Window(
        "completeTime", NOW - timedelta(days=7), NOW, "days_back"
    )
    start, end = NOW - timedelta(days=20), NOW - timedelta(days=19)
    assert plan(conn, entities.SALES, backfill_range=(start, end)) == Window(
        "completeTime", start, end, "backfill"
    )
    with pytest.raises(ValueError, match="starts after it ends"):
        plan(conn, entities.SALES, backfill_range=(end, start))


def test_small_dimensions_are_full_reloads(conn) -> None:
    for entity in (entities.SHOPS, entities.REGISTERS, entities.PAYMENT_TYPES):
        window = plan(conn, entity)
        assert window == Window(None, None, NOW, "full") and window.params() == {}


def test_a_watermark_ahead_of_the_api_clock_is_capped(conn) -> None:
    store(conn, entities.SALES, NOW + timedelta(days=30))  # e.g. the emulator was reset
    assert plan(conn, entities.SALES).start == NOW - timedelta(hours=48)


def test_naive_server_now_is_refused(conn) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_window(
            conn, entities.SALES, account_id=7, shop_id=1, server_now=NOW.replace(tzinfo=None)
        )


def test_window_round_trips_through_xcom_json() -> None:
    window = Window("timeStamp", NOW - timedelta(hours=1), NOW, "incremental")
    assert Window.from_dict(window.as_dict()) == window
    full = Window(None, None, NOW, "full")
    assert Window.from_dict(full.as_dict()) == full
