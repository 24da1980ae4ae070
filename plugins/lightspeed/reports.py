"""The T.M.A.S. reports: Totaling (figures per location and chain) and the Data Export CSV.

Both read `lightspeed_agg` through the report functions of V003 (SQL in
`include/sql/reports/`); this module only picks locations, runs the query and formats. Every
rounding happens here, once, half away from zero: stored values stay exact so a total is never
a sum of rounded parts.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO

import psycopg2.extensions

from lightspeed.aggregates import StoredLocation, stored_locations
from lightspeed.errors import LightspeedError
from lightspeed.migrate import read_sql

log = logging.getLogger(__name__)

EXPORT_HEADER = ("Location ID", "Date", "Hour", "Sales", "Transactions", "Items", "Staff")
GRAINS = ("hour", "15min")
FORMATS = ("table", "csv", "json")
_CENT = Decimal("0.01")


class ReportError(LightspeedError):
    """A report cannot be produced as asked (unknown location, empty range, wrong grain)."""


# --- formatting -------------------------------------------------------------------------------


def two_decimals(value: Decimal | int | None) -> str:
    """Money, hours and KPIs as T.M.A.S. wants them: "0.00"; empty for a missing KPI."""
    if value is None:
        return ""
    quantized = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{quantized + 0:.2f}"  # "+ 0" turns -0.00 into 0.00


def quantity(value: Decimal | int) -> str:
    """Items: an integer when whole (the usual case), else the exact decimal without zeros."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


# --- locations and dates ----------------------------------------------------------------------


def resolve_locations(
    conn: psycopg2.extensions.connection, requested: Sequence[str] | None
) -> list[StoredLocation]:
    """The locations a report covers: all known ones, or the requested ones in id order."""
    known = stored_locations(conn)
    if not known:
        raise ReportError(
            "No locations in lightspeed_agg.location yet: run the shop DAGs (their aggregate "
            "task registers each location) or check --warehouse."
        )
    if not requested:
        return list(known.values())
    unknown = sorted(set(requested) - set(known))
    if unknown:
        raise ReportError(
            f"Unknown location(s) {', '.join(unknown)}; known: {', '.join(known)}. "
            "Use the T.M.A.S. location id from include/shops.yaml (e.g. 0001)."
        )
    return [known[loc] for loc in sorted(set(requested))]


def check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise ReportError(
            f"--from {date_from} is after --to {date_to}; dates are local business dates, inclusive."
        )


# --- Totaling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Totaling figures of one location (or the chain, location_id None) over a range."""

    location_id: str | None
    label: str | None
    sales: Decimal
    transactions: int
    items: Decimal
    staff_hours: Decimal
    atv: Decimal | None
    upt: Decimal | None
    sales_per_staff_hour: Decimal | None
    traffic: int | None
    conversion_pct: Decimal | None
    sales_per_shopper: Decimal | None
    star: Decimal | None

    @property
    def name(self) -> str:
        if self.location_id is None:
            return "Chain"
        return f"{self.location_id} {self.label}" if self.label else self.location_id


def totals_from_row(row: dict) -> Totals:
    return Totals(
        location_id=None if row.get("is_chain") else row["location_id"],
        label=row.get("label"),
        sales=row["sales"],
        transactions=int(row["transactions"]),
        items=row["items"],
        staff_hours=row["staff_hours"],
        atv=row["atv"],
        upt=row["upt"],
        sales_per_staff_hour=row["sales_per_staff_hour"],
        traffic=None if row["traffic_in"] is None else int(row["traffic_in"]),
        conversion_pct=row["conversion_pct"],
        sales_per_shopper=row["sales_per_shopper"],
        star=row["star"],
    )


def fetch_dicts(cur: psycopg2.extensions.cursor) -> list[dict]:
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def totaling(
    conn: psycopg2.extensions.connection,
    date_from: date,
    date_to: date,
    locations: Sequence[str] | None = None,
) -> list[Totals]:
    """Totals per location (id order) followed by the chain row, over local dates inclusive."""
    check_range(date_from, date_to)
    chosen = resolve_locations(conn, locations)
    with conn.cursor() as cur:
        cur.execute(
            read_sql("reports/totaling.sql"),
            {
                "date_from": date_from,
                "date_to": date_to,
                "locations": [loc.location_id for loc in chosen],
            },
        )
        return [totals_from_row(row) for row in fetch_dicts(cur)]


_TOTALING_COLUMNS = (
    ("Location", "name", None),
    ("Sales", "sales", two_decimals),
    ("Transactions", "transactions", str),
    ("Items", "items", quantity),
    ("Staff hours", "staff_hours", two_decimals),
    ("ATV", "atv", two_decimals),
    ("UPT", "upt", two_decimals),
    ("Sales/staff hour", "sales_per_staff_hour", two_decimals),
)
_TRAFFIC_COLUMNS = (
    ("Traffic", "traffic", lambda v: "" if v is None else str(v)),
    ("Conversion %", "conversion_pct", two_decimals),
    ("Sales/shopper", "sales_per_shopper", two_decimals),
    ("STAR", "star", two_decimals),
)


def _totaling_columns(rows: Sequence[Totals]) -> tuple:
    # Traffic KPIs only mean something where a people counter exists: no counts, no columns.
    has_traffic = any(row.traffic is not None for row in rows)
    return _TOTALING_COLUMNS + (_TRAFFIC_COLUMNS if has_traffic else ())


def totaling_cells(rows: Sequence[Totals]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells, shared by the table, the CSV and the dashboard."""
    columns = _totaling_columns(rows)
    header = [title for title, _, _ in columns]
    cells = [
        [getattr(row, attr) if fmt is None else fmt(getattr(row, attr)) for _, attr, fmt in columns]
        for row in rows
    ]
    return header, cells


def aligned_table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A plain-text table: text left, numbers right, one rule under the header."""
    widths = [max(len(str(v)) for v in column) for column in zip(header, *cells, strict=True)]

    def line(values: Sequence[str]) -> str:
        parts = [
            str(v).ljust(w) if i == 0 else str(v).rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in cells)]) + "\n"


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))
    return value


def format_totaling(rows: Sequence[Totals], fmt: str, date_from: date, date_to: date) -> str:
    """Render Totaling rows as an aligned table, CSV or JSON."""
    if fmt == "json":
        payload = {
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "locations": [
                {k: _json_value(v) for k, v in asdict(row).items()}
                for row in rows
                if row.location_id is not None
            ],
            "chain": next(
                (
                    {k: _json_value(v) for k, v in asdict(row).items()}
                    for row in rows
                    if row.location_id is None
                ),
                None,
            ),
        }
        return json.dumps(payload, indent=2) + "\n"
    header, cells = totaling_cells(rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(cells)
        return buffer.getvalue()
    if fmt == "table":
        title = f"Totaling {date_from} to {date_to} (local business dates)\n\n"
        return title + aligned_table(header, cells)
    raise ReportError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")


# --- Data Export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    rows: int
    skipped_locations: tuple[str, ...]


def export_rows(
    conn: psycopg2.extensions.connection,
    date_from: date,
    date_to: date,
    *,
    grain: str = "hour",
    locations: Sequence[StoredLocation],
    opening_hours_only: bool = False,
) -> list[tuple[str, ...]]:
    """Formatted CSV rows (header excluded), sorted by location, date and hour."""
    if grain not in GRAINS:
        raise ReportError(f"Unknown grain {grain!r}; use one of {', '.join(GRAINS)}.")
    sql = read_sql("reports/export_hourly.sql" if grain == "hour" else "reports/export_15min.sql")
    hour_format = "%H" if grain == "hour" else "%H:%M"
    with conn.cursor() as cur:
        cur.execute(
            sql,
            {
                "date_from": date_from,
                "date_to": date_to,
                "locations": [loc.location_id for loc in locations],
                "opening_hours_only": opening_hours_only,
            },
        )
        records = cur.fetchall()
    return [_export_row(record, hour_format) for record in records]


def _export_row(record: tuple, hour_format: str) -> tuple[str, ...]:
    location_id, local_date, local_start, sales, transactions, items, staff_hours = record
    local_start: datetime
    return (
        location_id,
        local_date.isoformat(),
        local_start.strftime(hour_format),
        two_decimals(sales),
        str(transactions),
        quantity(items),
        two_decimals(staff_hours),
    )


def write_export(
    conn: psycopg2.extensions.connection,
    out: TextIO,
    date_from: date,
    date_to: date,
    *,
    grain: str = "hour",
    locations: Sequence[str] | None = None,
    opening_hours_only: bool = False,
) -> ExportResult:
    """Write the Data Export CSV to `out`.

    A 15-minute export cannot split an hourly (PEARL) location's hours, so such locations are
    skipped with a warning; asking only for such locations is an error.
    """
    check_range(date_from, date_to)
    chosen = resolve_locations(conn, locations)
    skipped: tuple[str, ...] = ()
    if grain == "15min":
        skipped = tuple(loc.location_id for loc in chosen if loc.interval_minutes != 15)
        chosen = [loc for loc in chosen if loc.interval_minutes == 15]
        if not chosen:
            raise ReportError(
                f"Location(s) {', '.join(skipped)} are counted hourly (PEARL): there is no "
                "15-minute data for them. Export them with --grain hour."
            )
        if skipped:
            log.warning(
                "Skipping hourly (PEARL) location(s) %s in the 15-minute export; "
                "export them with --grain hour",
                ", ".join(skipped),
            )
    rows = export_rows(
        conn,
        date_from,
        date_to,
        grain=grain,
        locations=chosen,
        opening_hours_only=opening_hours_only,
    )
    write_csv(out, rows)
    return ExportResult(rows=len(rows), skipped_locations=skipped)


def write_csv(out: TextIO, rows: Iterable[Sequence[str]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
