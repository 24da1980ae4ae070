"""Synthetic people-counter exports for the demo, so the reports can show conversion and STAR.

A real chain gets these files from its counters (PEARL: hourly, 3D Scope: every 15 minutes).
The demo has no counters, so it makes a plausible export from what the warehouse already
holds: for every bucket of a location's `interval_metrics` (its own grain, local time),
visitors = transactions / the location's conversion rate, with noise, plus a few browsers in
open buckets without a sale. Visitors leave in the bucket they came or the next one, so a
day's Out equals its In.

Deterministic: the conversion rate comes from (seed, location) and each bucket's noise from
(seed, location, local start), so regenerating an overlapping range writes the same counts
and loading the file again changes nothing.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from pathlib import Path

import psycopg2.extensions

from lightspeed.traffic import HEADER

# Typical specialty-retail conversion: between a fifth and a third of visitors buy.
CONVERSION_RANGE = (0.20, 0.34)
# Expected browsers in an open bucket without a sale, per hour of bucket length.
IDLE_VISITORS_PER_HOUR = 2.0
NOISE_SIGMA = 0.15
STAY_SHARE = 0.7  # of a bucket's visitors, the share that leaves in that same bucket


@dataclass(frozen=True)
class Bucket:
    """One bucket of `lightspeed_agg.interval_metrics`: what the counter would have seen."""

    local_start: datetime  # wall-clock time in the location's zone (naive)
    interval_minutes: int
    in_opening_hours: bool
    transactions: int


@dataclass(frozen=True)
class CounterRow:
    location_id: str
    local_start: datetime
    visitors_in: int
    visitors_out: int

    def csv_fields(self) -> tuple[str, str, str, str, str]:
        return (
            self.location_id,
            self.local_start.strftime("%Y-%m-%d"),
            self.local_start.strftime("%H:%M"),
            str(self.visitors_in),
            str(self.visitors_out),
        )


@dataclass(frozen=True)
class CounterFile:
    path: Path
    location_id: str
    rows: int
    visitors: int
    transactions: int
    conversion: float  # the rate the counts were made with


def conversion_rate(seed: int, location_id: str) -> float:
    """The location's typical conversion, fixed by (seed, location)."""
    low, high = CONVERSION_RANGE
    return round(random.Random(f"{seed}|{location_id}|conversion").uniform(low, high), 3)


def simulate_counts(buckets: Sequence[Bucket], *, seed: int, location_id: str) -> list[CounterRow]:
    """Counter rows for the buckets that a counter would report (open, or with a sale).

    Buckets outside opening hours without a sale get no row: a counter in a closed shop
    counts nobody, and a missing row keeps such buckets out of the traffic KPIs.
    """
    conversion = conversion_rate(seed, location_id)
    counted = [
        b
        for b in sorted(buckets, key=lambda b: b.local_start)
        if b.in_opening_hours or b.transactions
    ]
    rows: list[CounterRow] = []
    for _, day in groupby(counted, key=lambda b: b.local_start.date()):
        rows += _one_day(list(day), seed=seed, location_id=location_id, conversion=conversion)
    return rows


def _one_day(
    day: list[Bucket], *, seed: int, location_id: str, conversion: float
) -> list[CounterRow]:
    rows = []
    carried = 0  # visitors of the previous bucket still in the shop
    for index, bucket in enumerate(day):
        rng = random.Random(f"{seed}|{location_id}|{bucket.local_start.isoformat()}")
        visitors_in = _visitors(bucket, conversion, rng)
        staying = round(visitors_in * STAY_SHARE)
        last = index == len(day) - 1
        # Everyone has left by the last counted bucket of the day, so In and Out agree daily.
        visitors_out = carried + (visitors_in if last else staying)
        carried = visitors_in - staying
        rows.append(CounterRow(location_id, bucket.local_start, visitors_in, visitors_out))
    return rows


def _visitors(bucket: Bucket, conversion: float, rng: random.Random) -> int:
    if bucket.transactions:
        expected = bucket.transactions / conversion
    else:
        expected = IDLE_VISITORS_PER_HOUR * bucket.interval_minutes / 60
    noisy = expected * max(0.5, rng.gauss(1.0, NOISE_SIGMA))
    # Each buyer walked in, so visitors never fall below transactions.
    return max(bucket.transactions, round(noisy))


def read_buckets(
    conn: psycopg2.extensions.connection,
    location_id: str,
    date_from: date,
    date_to: date,
    *,
    until: datetime,
) -> list[Bucket]:
    """The location's buckets in [date_from, date_to] (local dates) that ended by `until` (UTC).

    Rows for later buckets of today exist (zeros in opening hours); a counter has not seen them yet.
    """
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT local_start, interval_minutes, in_opening_hours, transactions
            FROM lightspeed_agg.interval_metrics
            WHERE location_id = %(location)s
              AND local_date BETWEEN %(date_from)s AND %(date_to)s
              AND utc_start + make_interval(mins => interval_minutes) <= %(until)s
            ORDER BY local_start
            """,
            {"location": location_id, "date_from": date_from, "date_to": date_to, "until": until},
        )
        return [
            Bucket(start, minutes, bool(is_open), int(sales))
            for start, minutes, is_open, sales in cur.fetchall()
        ]


def write_counter_csv(path: Path, rows: Iterable[CounterRow]) -> int:
    """Write rows in the people-counter export shape `lightspeed traffic load` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(row.csv_fields())
            count += 1
    return count


def generate_counter_file(
    conn: psycopg2.extensions.connection,
    location_id: str,
    date_from: date,
    date_to: date,
    *,
    seed: int,
    until: datetime,
    out_dir: Path,
) -> CounterFile:
    """Read the location's buckets, simulate its counter, write `<out_dir>/<location>.csv`."""
    buckets = read_buckets(conn, location_id, date_from, date_to, until=until)
    rows = simulate_counts(buckets, seed=seed, location_id=location_id)
    path = out_dir / f"counter_{location_id}.csv"
    write_counter_csv(path, rows)
    return CounterFile(
        path=path,
        location_id=location_id,
        rows=len(rows),
        visitors=sum(r.visitors_in for r in rows),
        transactions=sum(b.transactions for b in buckets),
        conversion=conversion_rate(seed, location_id),
    )
