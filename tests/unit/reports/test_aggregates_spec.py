"""Location specs: opening hours -> open bucket slots, validation messages, JSON round trip."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from lightspeed.aggregates import (
    LocationSpec,
    open_slots,
    opening_hours_from_json,
    opening_hours_json,
    rebuild,
    validate_spec,
)
from lightspeed.errors import ConfigError


def spec(**changes: object) -> LocationSpec:
    values: dict = dict(
        location_id="0001",
        account_id=1,
        shop_id=1,
        time_zone="US/Eastern",
        interval_minutes=60,
        opening_hours={0: (time(9, 30), time(17, 0))},
    )
    values.update(changes)
    return LocationSpec(**values)


def test_a_bucket_is_open_when_any_part_overlaps_opening_hours() -> None:
    slots = open_slots(spec())
    assert slots == [h * 60 for h in range(9, 17)]  # Monday 09:00 .. 16:00
    quarters = open_slots(spec(interval_minutes=15, opening_hours={6: (time(9, 30), time(10, 10))}))
    sunday = 6 * 1440
    assert quarters == [sunday + 570, sunday + 585, sunday + 600]  # 09:30, 09:45, 10:00


def test_whole_day_and_closing_at_midnight() -> None:
    assert open_slots(spec(opening_hours=None)) is None
    late = open_slots(spec(opening_hours={4: (time(18, 0), time(0, 0))}))
    assert late == [4 * 1440 + h * 60 for h in range(18, 24)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"interval_minutes": 30}, "use 15 .3D Scope. or 60 .PEARL."),
        ({"time_zone": "Mars/Olympus"}, "time zone 'Mars/Olympus' is unknown"),
        ({"opening_hours": {0: (time(18, 0), time(9, 0))}}, "closes at 09:00, not after it opens"),
        ({"opening_hours": {7: (time(9, 0), time(10, 0))}}, "weekday 7 is not 0"),
        ({"location_id": ""}, "non-empty location_id"),
    ],
)
def test_bad_specs_say_what_to_fix(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_spec(spec(**changes))


def test_opening_hours_json_round_trip() -> None:
    hours = {0: (time(9, 0), time(0, 0)), 5: (time(10, 15), time(14, 45))}
    text = opening_hours_json(spec(opening_hours=hours))
    assert text == '{"0": ["09:00", "24:00"], "5": ["10:15", "14:45"]}'
    import json

    assert opening_hours_from_json(json.loads(text)) == hours
    assert opening_hours_json(spec(opening_hours=None)) is None


def test_rebuild_refuses_naive_or_reversed_ranges_before_touching_the_database() -> None:
    aware = datetime.fromisoformat("2025-11-02T00:00:00+00:00")
    with pytest.raises(ValueError, match="timezone-aware"):
        rebuild(None, spec(), datetime(2025, 11, 2), aware)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is after"):
        rebuild(None, spec(), aware, aware.replace(day=1))  # type: ignore[arg-type]
