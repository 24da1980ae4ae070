"""interval_metrics against the independent answer key, DST buckets, idempotence, isolation."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import psycopg2
import pytest


def _stored(dsn: str, location_id: str, days: list[date]) -> pd.DataFrame:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT local_start, in_opening_hours, sales, transactions, items, staff_seconds "
            "FROM lightspeed_agg.interval_metrics WHERE location_id = %s AND local_date = ANY(%s) "
            "ORDER BY local_start",
            (location_id, days),
        )
        rows = cur.fetchall()
    conn.close()
    frame = pd.DataFrame(
        rows,
        columns=[
            "local_start",
            "in_opening_hours",
            "sales",
            "transactions",
            "items",
            "staff_seconds",
        ],
    ).set_index("local_start")
    frame.index = pd.DatetimeIndex(frame.index)
    return frame


@pytest.mark.parametrize(
    "location_index", [0, 1, 2], ids=["boston-15min", "phoenix-hourly", "hartford-hourly"]
)
@pytest.mark.parametrize("span_name", ["AUTUMN", "SPRING"])
def test_buckets_match_independent_calculation(
    chain_warehouse: str, scenario: SimpleNamespace, location_index: int, span_name: str
) -> None:
    spec = scenario.LOCATIONS[location_index]
    days = scenario.days_of(getattr(scenario, span_name))
    expected = scenario.expected_buckets(scenario.build_chain(), spec, days)
    stored = _stored(chain_warehouse, spec.location_id, days)

    assert list(stored.index) == list(expected.index)
    for column in ("in_opening_hours", "transactions"):
        assert stored[column].tolist() == expected[column].tolist(), column
    # Exact, not rounded: the warehouse keeps every ten-thousandth of the raw strings.
    assert stored["sales"].tolist() == expected["sales"].tolist()
    assert stored["items"].tolist() == expected["items"].tolist()
    assert [Decimal(v) for v in stored["staff_seconds"]] == [
        Decimal(v) for v in expected["staff_seconds"]
    ]


def _rows_on(dsn: str, location_id: str, day: date) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT local_start, utc_ranges::text, sales, transactions, staff_seconds "
            "FROM lightspeed_agg.interval_metrics WHERE location_id = %s AND local_date = %s "
            "ORDER BY local_start",
            (location_id, day),
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def test_autumn_repeated_hour_is_one_row_holding_both(chain_warehouse: str) -> None:
    rows = _rows_on(chain_warehouse, "0001", date(2025, 11, 2))
    assert len(rows) == 96  # 25 real hours, 24 wall-clock hours of quarters
    by_start = {r[0]: r for r in rows}
    quarter = by_start[datetime(2025, 11, 2, 1, 15)]
    # 01:15 EDT (05:15Z) and 01:15 EST (06:15Z): one bucket, two UTC stretches.
    assert quarter[1] == (
        '{["2025-11-02 05:15:00+00","2025-11-02 05:30:00+00"),'
        '["2025-11-02 06:15:00+00","2025-11-02 06:30:00+00")}'
    )
    assert quarter[3] >= 2  # the 01:20 sale of each pass (random ones may add)
    # The shift 00:37:12 EDT -> 03:05:09 EST covers both passes: 30 minutes per quarter.
    assert quarter[4] >= 1800

    hartford = {r[0]: r for r in _rows_on(chain_warehouse, "0003", date(2025, 11, 2))}
    one_am = hartford[datetime(2025, 11, 2, 1, 0)]
    assert one_am[1] == '{["2025-11-02 05:00:00+00","2025-11-02 07:00:00+00")}'
    assert one_am[3] >= 2  # both 01:20 sales (random ones may add)


def test_spring_skipped_hour_has_no_row(chain_warehouse: str) -> None:
    rows = _rows_on(chain_warehouse, "0001", date(2025, 3, 9))
    assert len(rows) == 92
    assert not [r for r in rows if r[0].hour == 2]
    by_start = {r[0]: r for r in rows}
    # 01:45 EST ends at 06:59:59Z; the next instant is 03:00 EDT.
    assert by_start[datetime(2025, 3, 9, 1, 45)][1] == (
        '{["2025-03-09 06:45:00+00","2025-03-09 07:00:00+00")}'
    )
    assert by_start[datetime(2025, 3, 9, 3, 0)][1] == (
        '{["2025-03-09 07:00:00+00","2025-03-09 07:15:00+00")}'
    )


def test_closed_day_keeps_only_active_buckets(chain_warehouse: str) -> None:
    # Phoenix is closed on Sundays: no zero rows, but activity still shows.
    rows = _rows_on(chain_warehouse, "0002", date(2025, 11, 2))
    assert rows, "sales made on a closed day must not vanish"
    with psycopg2.connect(chain_warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT bool_or(in_opening_hours) FROM lightspeed_agg.interval_metrics "
            "WHERE location_id = '0002' AND local_date = '2025-11-02'"
        )
        assert cur.fetchone()[0] is False
    conn.close()


def _snapshot(dsn: str) -> dict[tuple, tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT location_id, local_start, sales, transactions, items, staff_seconds, rebuilt_at "
            "FROM lightspeed_agg.interval_metrics"
        )
        rows = cur.fetchall()
    conn.close()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_rebuild_is_idempotent_and_touches_only_requested_days(
    chain_warehouse: str, scenario: SimpleNamespace
) -> None:
    before = _snapshot(chain_warehouse)
    boston = scenario.BOSTON
    result = scenario.rebuild_days(chain_warehouse, boston, (date(2025, 11, 2), date(2025, 11, 2)))
    assert result["local_from"] == result["local_to"] == "2025-11-02"
    assert result["deleted"] == result["buckets"] == 96
    after = _snapshot(chain_warehouse)
    assert after.keys() == before.keys()
    for key, values in after.items():
        if key[0] == "0001" and key[1].date() == date(2025, 11, 2):
            assert values[:4] == before[key][:4]  # same figures
            assert values[4] > before[key][4]  # rebuilt
        else:
            assert values == before[key]  # untouched, rebuilt_at included

    # Change a sale on 11-03 and rebuild 11-01 only: 11-03 keeps its old figure until rebuilt.
    with psycopg2.connect(chain_warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE lightspeed_staging.sale SET calc_subtotal = calc_subtotal + 1000 "
            "WHERE shop_id = 1 AND completed AND NOT voided "
            "AND (complete_time AT TIME ZONE 'US/Eastern')::date = '2025-11-03' "
            "RETURNING (complete_time AT TIME ZONE 'US/Eastern')"
        )
        changed = cur.fetchall()
    conn.close()
    assert changed
    scenario.rebuild_days(chain_warehouse, boston, (date(2025, 11, 1), date(2025, 11, 1)))
    assert (
        _snapshot(chain_warehouse)[("0001", datetime(2025, 11, 3, 12, 0))]
        == after[("0001", datetime(2025, 11, 3, 12, 0))]
    )
    scenario.rebuild_days(chain_warehouse, boston, (date(2025, 11, 3), date(2025, 11, 3)))
    final = _snapshot(chain_warehouse)
    day_total = sum(
        v[0] for k, v in final.items() if k[0] == "0001" and k[1].date() == date(2025, 11, 3)
    )
    old_total = sum(
        v[0] for k, v in after.items() if k[0] == "0001" and k[1].date() == date(2025, 11, 3)
    )
    assert day_total - old_total == 1000 * len(changed)


def test_utc_range_crossing_local_midnight_touches_both_days(
    chain_warehouse: str, scenario: SimpleNamespace
) -> None:
    conn = psycopg2.connect(chain_warehouse)
    try:
        # 03:30Z on 11-02 is 23:30 EDT on 11-01; 04:30Z is 00:30 on 11-02.
        result = scenario.rebuild(
            conn,
            scenario.HARTFORD,
            datetime.fromisoformat("2025-11-02T03:30:00+00:00"),
            datetime.fromisoformat("2025-11-02T04:30:00+00:00"),
        )
    finally:
        conn.close()
    assert (result["local_from"], result["local_to"], result["days"]) == (
        "2025-11-01",
        "2025-11-02",
        2,
    )


def test_location_row_follows_the_config(chain_warehouse: str, scenario: SimpleNamespace) -> None:
    from dataclasses import replace

    moved = replace(
        scenario.PHOENIX, label="Phoenix Downtown", opening_hours={0: (time(8, 0), time(12, 0))}
    )
    scenario.rebuild_days(chain_warehouse, moved, (date(2025, 11, 3), date(2025, 11, 3)))
    with psycopg2.connect(chain_warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT label, opening_hours FROM lightspeed_agg.location WHERE location_id = '0002'"
        )
        assert cur.fetchone() == ("Phoenix Downtown", {"0": ["08:00", "12:00"]})
        cur.execute(
            "SELECT min(local_start)::time, max(local_start)::time FROM lightspeed_agg.interval_metrics "
            "WHERE location_id = '0002' AND local_date = '2025-11-03' AND in_opening_hours"
        )
        assert cur.fetchone() == (time(8, 0), time(11, 0))
    conn.close()
