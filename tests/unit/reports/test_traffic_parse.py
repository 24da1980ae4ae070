"""Traffic CSV parsing without a database: header, grid, DST folds, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lightspeed.aggregates import StoredLocation
from lightspeed.traffic import TrafficFileError, parse_traffic_csv

LOCATIONS = {
    "0001": StoredLocation("0001", 1, 1, "US/Eastern", 15),
    "0002": StoredLocation("0002", 1, 2, "America/Phoenix", 60),
}


def parse(text: str) -> list:
    return parse_traffic_csv(text.splitlines(keepends=True), LOCATIONS, source="c.csv")


def test_rows_become_utc_interval_starts_at_the_location_grain() -> None:
    rows = parse(
        "Location ID,Date,Time,In,Out\n0001,2025-07-01,09:15,3,2\n\n0002,2025-11-02,01:00,8,7\n"
    )
    assert [(r.location_id, r.interval_start, r.interval_minutes) for r in rows] == [
        ("0001", datetime(2025, 7, 1, 13, 15, tzinfo=UTC), 15),
        ("0002", datetime(2025, 11, 2, 8, 0, tzinfo=UTC), 60),  # Phoenix has no DST
    ]


def test_repeated_autumn_hour_takes_summer_time_first() -> None:
    rows = parse(
        "Location ID,Date,Time,In,Out\n0001,2025-11-02,01:30,1,1\n0001,2025-11-02,01:30,2,2\n"
    )
    assert [r.interval_start.isoformat() for r in rows] == [
        "2025-11-02T05:30:00+00:00",
        "2025-11-02T06:30:00+00:00",
    ]
    with pytest.raises(TrafficFileError, match="line 4: duplicate of line 2"):
        parse(
            "Location ID,Date,Time,In,Out\n0001,2025-11-02,01:30,1,1\n"
            "0001,2025-11-02,01:30,2,2\n0001,2025-11-02,01:30,3,3\n"
        )


@pytest.mark.parametrize(
    "header",
    ["Location,Date,Time,In,Out", "Location ID,Date,Time,In", ""],
)
def test_header_must_be_exact(header: str) -> None:
    with pytest.raises(TrafficFileError, match="line 1: the header must be exactly"):
        parse(header + "\n" if header else "")


def test_hourly_grid_and_field_count() -> None:
    with pytest.raises(TrafficFileError) as caught:
        parse("Location ID,Date,Time,In,Out\n0002,2025-11-03,09:15,1,1\n0002,2025-11-03,10:00,1\n")
    message = str(caught.value)
    assert "line 2: Time 09:15 is not the start of a 60-minute interval" in message
    assert "line 3: expected 5 fields" in message


def test_problems_are_capped_in_the_message() -> None:
    body = "".join(f"0009,2025-11-03,{h:02d}:00,1,1\n" for h in range(24))
    with pytest.raises(TrafficFileError) as caught:
        parse("Location ID,Date,Time,In,Out\n" + body)
    assert "... and 4 more" in str(caught.value)
