"""Rebuild `lightspeed_agg.interval_metrics` for the local days a run touched.

A run knows a UTC range; T.M.A.S. wants wall-clock buckets of each shop's own time zone. So a
rebuild widens the range to whole local days and replaces every bucket of those days (delete +
insert, set-based SQL in `include/sql/aggregates/`), in one transaction under a per-location
advisory lock: re-running a day is idempotent, and concurrent runs of one shop never interleave.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg2.extensions

from lightspeed.errors import ConfigError
from lightspeed.migrate import read_sql

log = logging.getLogger(__name__)

INTERVALS = (15, 60)  # 3D Scope counts in quarters of an hour, PEARL in hours
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class LocationSpec:
    """One T.M.A.S. location: which Lightspeed shop it is and how T.M.A.S. buckets it."""

    location_id: str  # "0001"
    account_id: int
    shop_id: int
    time_zone: str  # IANA or legacy name e.g. "US/Eastern"
    interval_minutes: int  # 15 (3D Scope) or 60 (PEARL)
    # weekday (0=Mon) -> (open, close) local; None = whole day; a missing weekday = closed.
    # A close of 00:00 means midnight at the end of the day.
    opening_hours: dict[int, tuple[time, time]] | None
    label: str | None = None


@dataclass(frozen=True)
class MetricRules:
    """The configurable parts of the metric definitions (issue 6: marked *)."""

    include_tax: bool = False  # Sales = subtotal - discount (+ tax1 + tax2 when True)
    count_zero_total_sales: bool = False  # a transaction needs a positive total unless True


DEFAULT_RULES = MetricRules()


@dataclass(frozen=True)
class _Days:
    date_from: date
    date_to: date

    @property
    def count(self) -> int:
        return (self.date_to - self.date_from).days + 1


def validate_spec(spec: LocationSpec) -> None:
    """Refuse a location the buckets cannot be built for, naming the field to fix."""
    where = f"location {spec.location_id!r}"
    if not spec.location_id:
        raise ConfigError("A location needs a non-empty location_id (e.g. '0001').")
    if spec.interval_minutes not in INTERVALS:
        raise ConfigError(
            f"{where}: interval_minutes is {spec.interval_minutes}; use 15 (3D Scope) or 60 (PEARL)."
        )
    try:
        ZoneInfo(spec.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{where}: time zone {spec.time_zone!r} is unknown; use an IANA name such as "
            "'America/New_York' or the shop's Lightspeed timeZone such as 'US/Eastern'."
        ) from exc
    open_slots(spec)  # validates opening hours


def _minute_of_day(value: time) -> int:
    return value.hour * 60 + value.minute


def open_slots(spec: LocationSpec) -> list[int] | None:
    """Bucket starts inside opening hours, as `weekday * 1440 + minute of day`; None = always.

    A bucket counts as open when any part of it overlaps [open, close), so a shop opening at
    09:30 has its 09:00 hourly bucket in the export.
    """
    if spec.opening_hours is None:
        return None
    slots: list[int] = []
    for weekday, (opens, closes) in sorted(spec.opening_hours.items()):
        if weekday not in range(7):
            raise ConfigError(
                f"location {spec.location_id!r}: opening-hours weekday {weekday} is not 0 (Monday) to 6 (Sunday)."
            )
        start = _minute_of_day(opens)
        end = _minute_of_day(closes) or _MINUTES_PER_DAY
        if end <= start:
            raise ConfigError(
                f"location {spec.location_id!r}: on weekday {weekday} the shop closes at "
                f"{closes:%H:%M}, not after it opens at {opens:%H:%M}; shops open past midnight "
                "must close at 00:00 and open again the next day at 00:00."
            )
        for minute in range(0, _MINUTES_PER_DAY, spec.interval_minutes):
            if minute < end and minute + spec.interval_minutes > start:
                slots.append(weekday * _MINUTES_PER_DAY + minute)
    return slots


def opening_hours_json(spec: LocationSpec) -> str | None:
    """The opening hours as stored in `lightspeed_agg.location.opening_hours`."""
    if spec.opening_hours is None:
        return None
    return json.dumps(
        {
            str(day): [f"{opens:%H:%M}", "24:00" if closes == time(0) else f"{closes:%H:%M}"]
            for day, (opens, closes) in sorted(spec.opening_hours.items())
        }
    )


def opening_hours_from_json(
    value: dict[str, list[str]] | None,
) -> dict[int, tuple[time, time]] | None:
    """The inverse of `opening_hours_json` (psycopg2 gives jsonb back as a dict)."""
    if value is None:
        return None

    def parse(text: str) -> time:
        return time(0) if text == "24:00" else time.fromisoformat(text)

    return {int(day): (parse(span[0]), parse(span[1])) for day, span in value.items()}


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")


def upsert_location(cur: psycopg2.extensions.cursor, spec: LocationSpec) -> None:
    """Insert or update the location row from the chain config."""
    cur.execute(
        read_sql("aggregates/upsert_location.sql"),
        {
            "location_id": spec.location_id,
            "account_id": spec.account_id,
            "shop_id": spec.shop_id,
            "time_zone": spec.time_zone,
            "interval_minutes": spec.interval_minutes,
            "opening_hours": opening_hours_json(spec),
            "label": spec.label,
        },
    )


def _local_days(
    cur: psycopg2.extensions.cursor, spec: LocationSpec, utc_from: datetime, utc_to: datetime
) -> _Days:
    cur.execute(
        read_sql("aggregates/local_days.sql"),
        {"utc_from": utc_from, "utc_to": utc_to, "time_zone": spec.time_zone},
    )
    date_from, date_to = cur.fetchone()
    return _Days(date_from, date_to)


def rebuild(
    conn: psycopg2.extensions.connection,
    spec: LocationSpec,
    utc_from: datetime,
    utc_to: datetime,
    *,
    rules: MetricRules = DEFAULT_RULES,
) -> dict:
    """Upsert the location row, then rebuild every bucket of the local days that [utc_from, utc_to] touches, in ONE transaction (commit at the end); return small counts for XCom.

    Args:
        conn: a warehouse connection; it is committed on success and rolled back on error.
        spec: the location as the chain config describes it.
        utc_from: start of the UTC range a run loaded (inclusive, timezone-aware).
        utc_to: end of that range (inclusive): a range ending at local midnight touches the
            next day too, which costs one idle day's rebuild and is never wrong.
        rules: the configurable metric definitions.

    Returns:
        {"location_id", "local_from", "local_to", "days", "deleted", "buckets"}: JSON-safe.
    """
    validate_spec(spec)
    _require_aware("utc_from", utc_from)
    _require_aware("utc_to", utc_to)
    if utc_from > utc_to:
        raise ValueError(f"utc_from {utc_from.isoformat()} is after utc_to {utc_to.isoformat()}")
    if conn.autocommit:
        # In autocommit the delete and the insert would commit apart: readers could see a
        # day with no buckets.
        raise ValueError("rebuild needs a connection with autocommit off (lightspeed.db.connect)")
    try:
        with conn.cursor() as cur:
            # generate_series hides the row counts from the planner, whose huge estimates then
            # buy ~1.5 s of JIT compilation for a query that runs in milliseconds.
            cur.execute("SET LOCAL jit = off")
            # Same location, same lock: two runs of one shop rebuild its days one after the other.
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"lightspeed_agg.location:{spec.location_id}",),
            )
            upsert_location(cur, spec)
            days = _local_days(cur, spec, utc_from, utc_to)
            params: dict[str, Any] = {
                "location_id": spec.location_id,
                "account_id": spec.account_id,
                "shop_id": spec.shop_id,
                "time_zone": spec.time_zone,
                "interval_minutes": spec.interval_minutes,
                "open_slots": open_slots(spec),
                "date_from": days.date_from,
                "date_to": days.date_to,
                "include_tax": rules.include_tax,
                "count_zero_total": rules.count_zero_total_sales,
            }
            cur.execute(read_sql("aggregates/delete_interval_metrics.sql"), params)
            deleted = cur.rowcount
            cur.execute(read_sql("aggregates/insert_interval_metrics.sql"), params)
            inserted = cur.rowcount
        conn.commit()
    except BaseException:
        # A dropped connection has nothing to roll back; keep the error that says why.
        if not conn.closed:
            conn.rollback()
        raise
    log.info(
        "Rebuilt location %s, local days %s..%s: %d buckets (%d replaced)",
        spec.location_id,
        days.date_from,
        days.date_to,
        inserted,
        deleted,
    )
    return {
        "location_id": spec.location_id,
        "local_from": days.date_from.isoformat(),
        "local_to": days.date_to.isoformat(),
        "days": days.count,
        "deleted": deleted,
        "buckets": inserted,
    }


@dataclass(frozen=True)
class StoredLocation:
    """A row of `lightspeed_agg.location`, as the reports and the traffic loader read it."""

    location_id: str
    account_id: int
    shop_id: int
    time_zone: str
    interval_minutes: int
    opening_hours: dict[int, tuple[time, time]] | None = field(default=None)
    label: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.location_id} {self.label}" if self.label else self.location_id


def stored_locations(conn: psycopg2.extensions.connection) -> dict[str, StoredLocation]:
    """Every location the aggregates know, by location id, in id order."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT location_id, account_id, shop_id, time_zone, interval_minutes, "
            "opening_hours, label FROM lightspeed_agg.location ORDER BY location_id"
        )
        rows = cur.fetchall()
    return {
        row[0]: StoredLocation(
            location_id=row[0],
            account_id=row[1],
            shop_id=row[2],
            time_zone=row[3],
            interval_minutes=row[4],
            opening_hours=opening_hours_from_json(row[5]),
            label=row[6],
        )
        for row in rows
    }
