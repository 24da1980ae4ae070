"""People-counter CSV -> `lightspeed_agg.traffic`, so the reports can show traffic KPIs.

The file is shaped like a counter export, one row per sensor interval in the location's local
time, at the location's grain (hourly for PEARL, 15 minutes for 3D Scope):

    Location ID,Date,Time,In,Out
    0001,2025-11-02,09:00,14,11

The whole file is checked before anything is written; every bad line is reported with what to
fix, and a good file is upserted in one transaction, so loading it again changes nothing.
On the autumn DST change a counter reports the repeated hour twice: the first row with that
Date and Time is the earlier (summer-time) hour, the second the later one.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2.extensions
import psycopg2.extras

from lightspeed.aggregates import StoredLocation, stored_locations
from lightspeed.errors import LightspeedError
from lightspeed.migrate import read_sql

log = logging.getLogger(__name__)

HEADER = ("Location ID", "Date", "Time", "In", "Out")
MAX_REPORTED_PROBLEMS = 20


class TrafficFileError(LightspeedError):
    """The traffic CSV has lines that cannot be loaded; nothing was written."""


@dataclass(frozen=True)
class TrafficRow:
    location_id: str
    interval_start: datetime  # UTC
    interval_minutes: int
    visitors_in: int
    visitors_out: int


def _parse_local(date_text: str, time_text: str) -> tuple[date, time]:
    day = date.fromisoformat(date_text)
    parts = time_text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError
    clock = time(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0)
    return day, clock


def _to_utc(day: date, clock: time, zone: ZoneInfo, fold: int) -> datetime | None:
    """The UTC instant of a wall-clock time, or None when the clocks skipped it (spring)."""
    local = datetime.combine(day, clock, tzinfo=zone).replace(fold=fold)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _is_repeated(day: date, clock: time, zone: ZoneInfo) -> bool:
    first = datetime.combine(day, clock, tzinfo=zone)
    return first.utcoffset() != first.replace(fold=1).utcoffset()


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def parse_traffic_csv(
    lines: Iterable[str], locations: Mapping[str, StoredLocation], *, source: str = "traffic CSV"
) -> list[TrafficRow]:
    """Parse and check a whole file; raise `TrafficFileError` listing every bad line."""
    reader = csv.reader(lines)
    problems: list[str] = []
    rows: list[TrafficRow] = []
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != tuple(
        h.lower() for h in HEADER
    ):
        raise TrafficFileError(
            f"{source} line 1: the header must be exactly `{','.join(HEADER)}`"
            + (f", not `{','.join(header)}`" if header else " (the file is empty)")
            + "."
        )
    seen: dict[tuple[str, date, time], list[int]] = {}
    for number, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        problem, row = _parse_line(fields, locations, seen, number)
        if problem:
            problems.append(f"{source} line {number}: {problem}")
        elif row:
            rows.append(row)
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise TrafficFileError(
            "Nothing was loaded; fix these lines and load the file again:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
    return rows


def _parse_line(
    fields: list[str],
    locations: Mapping[str, StoredLocation],
    seen: dict[tuple[str, date, time], list[int]],
    number: int,
) -> tuple[str | None, TrafficRow | None]:
    if len(fields) != len(HEADER):
        return f"expected {len(HEADER)} fields ({','.join(HEADER)}), found {len(fields)}.", None
    location_id, date_text, time_text, in_text, out_text = (f.strip() for f in fields)
    location = locations.get(location_id)
    if location is None:
        known = ", ".join(locations) or "none yet: run the shop DAGs first"
        return f"unknown Location ID {location_id!r} (known: {known}).", None
    try:
        day, clock = _parse_local(date_text, time_text)
    except ValueError:
        return (
            f"Date {date_text!r} / Time {time_text!r} must be YYYY-MM-DD and HH:MM "
            "(the local start of the interval).",
            None,
        )
    grain = location.interval_minutes
    if clock.second or (clock.hour * 60 + clock.minute) % grain:
        return (
            f"Time {time_text} is not the start of a {grain}-minute interval of location "
            f"{location_id}; use times on the {grain}-minute grid (e.g. 09:00"
            + (", 09:15)." if grain == 15 else ", 10:00)."),
            None,
        )
    try:
        visitors_in, visitors_out = _count(in_text), _count(out_text)
    except ValueError:
        return (
            f"In {in_text!r} and Out {out_text!r} must be whole numbers of visitors, 0 or more.",
            None,
        )
    zone = ZoneInfo(location.time_zone)
    earlier = seen.setdefault((location_id, day, clock), [])
    earlier.append(number)
    occurrence = len(earlier) - 1
    repeated = _is_repeated(day, clock, zone)
    if occurrence > (1 if repeated else 0):
        return (
            f"duplicate of line {earlier[0]} ({location_id} {day} {time_text}); "
            "keep one row per interval"
            + (" (two for the repeated autumn hour)." if repeated else "."),
            None,
        )
    instant = _to_utc(day, clock, zone, fold=occurrence)
    if instant is None:
        return (
            f"{day} {time_text} does not exist in {location.time_zone} (the clocks jumped "
            "forward); remove the row.",
            None,
        )
    return None, TrafficRow(location_id, instant, grain, visitors_in, visitors_out)


def load_traffic(conn: psycopg2.extensions.connection, path: str | Path) -> dict:
    """Load one counter CSV idempotently (upsert) in one transaction; return counts."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = parse_traffic_csv(handle, stored_locations(conn), source=path.name)
    except FileNotFoundError as exc:
        raise TrafficFileError(f"{path}: no such file; give the path of the counter CSV.") from exc
    try:
        with conn.cursor() as cur:
            changed = psycopg2.extras.execute_values(
                cur,
                read_sql("aggregates/upsert_traffic.sql"),
                [
                    (
                        r.location_id,
                        r.interval_start,
                        r.interval_minutes,
                        r.visitors_in,
                        r.visitors_out,
                    )
                    for r in rows
                ],
                page_size=1000,
                fetch=True,
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    inserted = sum(1 for (was_insert,) in changed if was_insert)
    result = {
        "rows": len(rows),
        "inserted": inserted,
        "updated": len(changed) - inserted,
        "unchanged": len(rows) - len(changed),
    }
    log.info("Loaded traffic from %s: %s", path.name, result)
    return result
