"""A small chain with every awkward case, as RAW API records, and an independent answer key.

The records are what Lightspeed serves (dicts of strings, single relations as objects, absent
keys for missing datetimes). They reach staging through the project's own normalize/transform
(as a real load would), and the expected aggregates are computed here from the raw strings
with pandas and zoneinfo only: no SQL, nothing from lightspeed.aggregates.

Cases: refunds (negative lines with parentSaleLineID), voided, archived and incomplete sales,
zero-total sales, fee lines, the autumn-back and spring-forward days in US/Eastern, a non-DST
shop (America/Phoenix) closed on Sundays, shifts across bucket edges, midnight and the DST
change, an open shift, and sales on exact bucket boundaries.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg2
import psycopg2.extras
import pytest

from lightspeed.aggregates import LocationSpec, rebuild
from lightspeed.entities import EMPLOYEE_HOURS, SALES, Entity
from lightspeed.normalize import normalize_record
from lightspeed.transform import Context, Rejected, transform_record

ACCOUNT_ID = 120645
# The API clock when everything was read: the open shift counts up to here.
EXTRACTED_AT = datetime(2025, 11, 3, 20, 0, tzinfo=UTC)
AUTUMN = (date(2025, 11, 1), date(2025, 11, 3))  # 2025-11-02: clocks go back 02:00 -> 01:00
SPRING = (date(2025, 3, 8), date(2025, 3, 10))  # 2025-03-09: clocks jump 02:00 -> 03:00
FEE_TYPES = ("item_fee", "item_fee_refund")

BOSTON = LocationSpec("0001", ACCOUNT_ID, 1, "US/Eastern", 15, None, "Boston")
PHOENIX = LocationSpec(
    "0002",
    ACCOUNT_ID,
    2,
    "America/Phoenix",
    60,
    {day: (time(9, 0), time(17, 30)) for day in range(6)},  # Sunday closed
    "Phoenix",
)
HARTFORD = LocationSpec(
    "0003",
    ACCOUNT_ID,
    3,
    "US/Eastern",
    60,
    {day: (time(10, 0), time(0, 0)) for day in range(7)},  # 10:00 to midnight
    "Hartford",
)
LOCATIONS = (BOSTON, PHOENIX, HARTFORD)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def local(spec: LocationSpec, day: date, clock: time, fold: int = 0) -> datetime:
    """A wall-clock time of the shop as a UTC instant (fold=1: the repeated autumn hour)."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(spec.time_zone)).replace(fold=fold)


def days_of(span: tuple[date, date]) -> list[date]:
    return [span[0] + timedelta(days=i) for i in range((span[1] - span[0]).days + 1)]


@dataclass
class RawChain:
    """Raw Sale (with SaleLines) and EmployeeHours records, as the API serves them."""

    sales: list[dict[str, Any]] = field(default_factory=list)
    hours: list[dict[str, Any]] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> str:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return str(self._ids[kind])

    def sale(
        self,
        spec: LocationSpec,
        when: datetime | None,
        lines: list[tuple[str, str, str, str]],
        *,
        completed: bool = True,
        voided: bool = False,
        archived: bool = False,
        parent_line: str = "0",
    ) -> dict[str, Any]:
        """lines: (unitQuantity, unitPrice, line discount, lineType) as API strings."""
        sale_id = self.next_id("sale")
        stamp = iso(when) if when else "2025-01-01T00:00:00+00:00"
        raw_lines = []
        subtotal = discount = Decimal(0)
        for qty, price, disc, line_type in lines:
            line_sub = Decimal(qty) * Decimal(price)
            subtotal += line_sub
            discount += Decimal(disc)
            raw_lines.append(
                {
                    "saleLineID": self.next_id("line"),
                    "createTime": stamp,
                    "timeStamp": stamp,
                    "unitQuantity": qty,
                    "unitPrice": price,
                    "normalUnitPrice": "0",
                    "discountAmount": "0",
                    "calcLineDiscount": disc,
                    "calcTransactionDiscount": "0",
                    "calcSubtotal": f"{line_sub}",
                    "calcTotal": f"{line_sub - Decimal(disc)}",
                    "isLayaway": "false",
                    "itemID": "0" if line_type else str(100 + len(raw_lines)),
                    "lineType": line_type,
                    "parentSaleLineID": parent_line if Decimal(qty) < 0 else "0",
                    "shopID": str(spec.shop_id),
                    "saleID": sale_id,
                }
            )
        tax = ((subtotal - discount) * Decimal("0.0625")).quantize(Decimal("0.0001"))
        total = subtotal - discount + tax
        record: dict[str, Any] = {
            "saleID": sale_id,
            "timeStamp": stamp,
            "discountPercent": "0",
            "completed": "true" if completed else "false",
            "archived": "true" if archived else "false",
            "voided": "true" if voided else "false",
            "createTime": stamp,
            "updatetime": stamp,
            "ticketNumber": f"22{int(sale_id):010d}",
            "calcDiscount": f"{discount}",
            "calcTotal": f"{total}",
            "calcSubtotal": f"{subtotal}",
            "calcTax1": f"{tax}",
            "calcTax2": "0",
            "total": f"{total}",
            "customerID": "0",
            "employeeID": "1",
            "registerID": "1",
            "shopID": str(spec.shop_id),
            # One line comes back as an object, several as a list (reference section 4.2).
            "SaleLines": {"SaleLine": raw_lines[0] if len(raw_lines) == 1 else raw_lines},
        }
        if when is not None and completed:
            record["completeTime"] = iso(when)  # absent until completed (section 4.7)
        self.sales.append(record)
        return record

    def shift(self, spec: LocationSpec, check_in: datetime, check_out: datetime | None) -> None:
        record = {
            "employeeHoursID": self.next_id("hours"),
            "checkIn": iso(check_in),
            "employeeID": str(1 + len(self.hours) % 5),
            "shopID": str(spec.shop_id),
        }
        if check_out is not None:
            record["checkOut"] = iso(check_out)
        self.hours.append(record)


def _random_sale(chain: RawChain, rng: random.Random, spec: LocationSpec, when: datetime) -> None:
    kind = rng.choices(
        ["normal", "refund", "voided", "incomplete", "archived", "zero", "fee"],
        weights=[55, 10, 6, 5, 4, 5, 15],
    )[0]
    price = f"{rng.randint(100, 9999) / 100:.2f}"
    qty = str(rng.randint(1, 3))
    disc = rng.choice(["0", "0", "1.5", "0.3333", "2.05"])
    if kind == "refund":
        chain.sale(spec, when, [("-1", price, "0", "")], parent_line=str(rng.randint(1, 50)))
    elif kind == "voided":
        chain.sale(spec, when, [(qty, price, "0", "")], voided=True)
    elif kind == "incomplete":
        chain.sale(spec, None, [(qty, price, "0", "")], completed=False)
    elif kind == "archived":
        chain.sale(spec, None, [(qty, price, "0", "")], completed=False, archived=True)
    elif kind == "zero":
        full = f"{Decimal(qty) * Decimal(price)}"
        chain.sale(spec, when, [(qty, price, full, "")])
    elif kind == "fee":
        fee = rng.choice(["item_fee", "item_fee_refund"])
        fee_qty = "1" if fee == "item_fee" else "-1"
        chain.sale(spec, when, [(qty, price, disc, ""), (fee_qty, "0.25", "0", fee)])
    else:
        lines = [(qty, price, disc, "")]
        if rng.random() < 0.4:
            lines.append(("2", "4.50", "0", ""))
        chain.sale(spec, when, lines)


def build_chain(seed: int = 7) -> RawChain:
    """The whole scenario; deterministic for a seed."""
    rng = random.Random(seed)
    chain = RawChain()
    for spec in LOCATIONS:
        zone = ZoneInfo(spec.time_zone)
        for day in days_of(AUTUMN) + days_of(SPRING):
            start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
            seconds = int((end - start).total_seconds())
            for _ in range(28):
                _random_sale(chain, rng, spec, start + timedelta(seconds=rng.randrange(seconds)))
            # Exactly on a bucket edge, and one second before it.
            chain.sale(spec, local(spec, day, time(12, 0)), [("1", "10.00", "0", "")])
            chain.sale(spec, local(spec, day, time(11, 59, 59)), [("1", "20.00", "0", "")])
            for _ in range(3):
                check_in = local(
                    spec, day, time(rng.randint(6, 13), rng.randint(0, 59), rng.randint(0, 59))
                )
                chain.shift(spec, check_in, check_in + timedelta(seconds=rng.randint(7200, 30000)))
            # Across midnight into the next local day.
            chain.shift(
                spec,
                local(spec, day, time(21, 13, 7)),
                local(spec, day + timedelta(days=1), time(1, 41, 55)),
            )
    # The repeated autumn hour: 01:20 happens twice in US/Eastern on 2025-11-02.
    for spec in (BOSTON, HARTFORD):
        day = date(2025, 11, 2)
        chain.sale(spec, local(spec, day, time(1, 20), fold=0), [("1", "30.00", "0", "")])
        chain.sale(spec, local(spec, day, time(1, 20), fold=1), [("2", "15.00", "0", "")])
        chain.shift(spec, local(spec, day, time(0, 37, 12)), local(spec, day, time(3, 5, 9)))
        spring = date(2025, 3, 9)
        chain.sale(spec, local(spec, spring, time(1, 59)), [("1", "5.00", "0", "")])
        chain.sale(spec, local(spec, spring, time(3, 0)), [("1", "6.00", "0", "")])
        chain.shift(spec, local(spec, spring, time(1, 30)), local(spec, spring, time(3, 30)))
    # Clocked in and not out yet when the API was read.
    chain.shift(BOSTON, datetime(2025, 11, 3, 15, 7, 11, tzinfo=UTC), None)
    return chain


# --- staging: through the project's own normalize + transform, inserted row by row -----------


def _insert(cur: psycopg2.extensions.cursor, entity: Entity, records: list[dict]) -> None:
    ctx = Context(account_id=ACCOUNT_ID, extracted_at=EXTRACTED_AT)
    by_table: dict[str, list[tuple]] = {}
    for record in records:
        result = transform_record(entity, normalize_record(record), ctx)
        assert not isinstance(result, Rejected), f"test data rejected: {result}"
        for table, rows in result.rows.items():
            by_table.setdefault(table, []).extend(rows)
    for table in entity.tables:
        rows = by_table.get(table.name, [])
        if not rows:
            continue
        columns = list(table.columns)
        values = rows
        if table.has_run_id:
            columns.append("run_id")
            values = [(*row, "test") for row in rows]
        psycopg2.extras.execute_values(
            cur,
            f"INSERT INTO lightspeed_staging.{table.name} ({', '.join(columns)}) VALUES %s",
            values,
        )


def load_staging(dsn: str, chain: RawChain) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        _insert(cur, SALES, chain.sales)
        _insert(cur, EMPLOYEE_HOURS, chain.hours)
    conn.close()


def rebuild_days(dsn: str, spec: LocationSpec, span: tuple[date, date]) -> dict:
    """Rebuild exactly the local days of span (utc_to is the last second of the last day)."""
    zone = ZoneInfo(spec.time_zone)
    utc_from = datetime.combine(span[0], time(0), tzinfo=zone).astimezone(UTC)
    utc_to = datetime.combine(span[1] + timedelta(days=1), time(0), tzinfo=zone).astimezone(
        UTC
    ) - timedelta(seconds=1)
    conn = psycopg2.connect(dsn)
    try:
        return rebuild(conn, spec, utc_from, utc_to)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def raw_chain() -> RawChain:
    return build_chain()


@pytest.fixture
def chain_warehouse(warehouse_dsn: str, raw_chain: RawChain) -> Iterator[str]:
    """A warehouse with the raw chain staged and both spans rebuilt for every location."""
    load_staging(warehouse_dsn, raw_chain)
    for spec in LOCATIONS:
        rebuild_days(warehouse_dsn, spec, AUTUMN)
        rebuild_days(warehouse_dsn, spec, SPRING)
    yield warehouse_dsn


# --- the answer key: pandas over the raw strings ----------------------------------------------


def cents(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP) + 0:.2f}"


def _wall_bucket(instant: pd.Series, zone: str, minutes: int) -> pd.Series:
    return instant.dt.tz_convert(zone).dt.tz_localize(None).dt.floor(f"{minutes}min")


def _in_hours(spec: LocationSpec, bucket: datetime) -> bool:
    if spec.opening_hours is None:
        return True
    span = spec.opening_hours.get(bucket.weekday())
    if span is None:
        return False
    opens = span[0].hour * 60 + span[0].minute
    closes = span[1].hour * 60 + span[1].minute or 24 * 60
    start = bucket.hour * 60 + bucket.minute
    return start < closes and start + spec.interval_minutes > opens


def expected_buckets(chain: RawChain, spec: LocationSpec, days: list[date]) -> pd.DataFrame:
    """Expected interval_metrics rows of one location: index local_start (wall clock)."""
    zone, minutes = spec.time_zone, spec.interval_minutes
    sales = pd.DataFrame([s for s in chain.sales if s["shopID"] == str(spec.shop_id)])
    sales = sales[
        (sales["completed"] == "true")
        & (sales["voided"] == "false")
        & (sales["archived"] == "false")
        & sales["completeTime"].notna()
    ].copy()
    sales["bucket"] = _wall_bucket(pd.to_datetime(sales["completeTime"], utc=True), zone, minutes)
    sales["net"] = [
        Decimal(a) - Decimal(b)
        for a, b in zip(sales["calcSubtotal"], sales["calcDiscount"], strict=True)
    ]
    sales["is_txn"] = [Decimal(t) > 0 for t in sales["calcTotal"]]

    lines = []
    for sale, bucket in zip(sales.to_dict("records"), sales["bucket"], strict=True):
        raw = sale["SaleLines"]["SaleLine"]
        for line in raw if isinstance(raw, list) else [raw]:
            if line["lineType"] not in FEE_TYPES:
                lines.append({"bucket": bucket, "qty": Decimal(line["unitQuantity"])})
    lines_df = pd.DataFrame(lines)

    staff: dict[pd.Timestamp, int] = {}
    tz = ZoneInfo(zone)
    for shift in chain.hours:
        if shift["shopID"] != str(spec.shop_id):
            continue
        start = datetime.fromisoformat(shift["checkIn"])
        end = datetime.fromisoformat(shift["checkOut"]) if "checkOut" in shift else EXTRACTED_AT
        cursor = start
        while cursor < end:
            edge = cursor.replace(minute=cursor.minute - cursor.minute % 15, second=0) + timedelta(
                minutes=15
            )
            piece_end = min(edge, end)
            wall = cursor.astimezone(tz).replace(tzinfo=None)
            bucket = pd.Timestamp(wall).floor(f"{minutes}min")
            staff[bucket] = staff.get(bucket, 0) + int((piece_end - cursor).total_seconds())
            cursor = piece_end

    rows: dict[pd.Timestamp, dict[str, Any]] = {}
    for day in days:
        instants = pd.date_range(
            pd.Timestamp(day).tz_localize(zone),
            pd.Timestamp(day + timedelta(days=1)).tz_localize(zone),
            freq="15min",
            inclusive="left",
        )
        for bucket in sorted(set(instants.tz_localize(None).floor(f"{minutes}min"))):
            rows[bucket] = {
                "in_opening_hours": _in_hours(spec, bucket.to_pydatetime()),
                "active": False,
            }
    zero = {"sales": Decimal(0), "transactions": 0, "items": Decimal(0), "staff_seconds": 0}
    for bucket, group in sales.groupby("bucket"):
        if bucket in rows:
            rows[bucket].update(
                active=True,
                sales=sum(group["net"], Decimal(0)),
                transactions=int(group["is_txn"].sum()),
            )
    if not lines_df.empty:
        for bucket, group in lines_df.groupby("bucket"):
            if bucket in rows:
                rows[bucket].update(active=True, items=sum(group["qty"], Decimal(0)))
    for bucket, seconds in staff.items():
        if bucket in rows and seconds:
            rows[bucket].update(active=True, staff_seconds=seconds)
    table = pd.DataFrame.from_dict(
        {k: {**zero, **v} for k, v in rows.items() if v["in_opening_hours"] or v["active"]},
        orient="index",
    ).sort_index()
    table.index.name = "local_start"
    return table


def expected_hourly(buckets: pd.DataFrame) -> pd.DataFrame:
    hourly = buckets.copy()
    hourly["hour"] = hourly.index.floor("60min")
    return hourly.groupby("hour").agg(
        sales=("sales", lambda s: sum(s, Decimal(0))),
        transactions=("transactions", "sum"),
        items=("items", lambda s: sum(s, Decimal(0))),
        staff_seconds=("staff_seconds", "sum"),
        in_opening_hours=("in_opening_hours", "any"),
    )


def items_text(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


def export_lines(spec: LocationSpec, table: pd.DataFrame, hour_format: str) -> list[str]:
    """Expected Data Export lines (no header) of one location."""
    return [
        ",".join(
            [
                spec.location_id,
                f"{ts:%Y-%m-%d}",
                ts.strftime(hour_format),
                cents(row["sales"]),
                str(int(row["transactions"])),
                items_text(row["items"]),
                cents(Decimal(int(row["staff_seconds"])) / 3600),
            ]
        )
        for ts, row in table.iterrows()
    ]


@pytest.fixture(scope="session")
def scenario() -> SimpleNamespace:
    """This module's constants and helpers (a conftest cannot be imported by test modules)."""
    return SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})
