"""Helpers for the warehouse tests: a small in-memory stand-in for the hook, record builders,
and a snapshot of every staging table to compare warehouses row for row.

`FakeLightspeed` has the three members extract.py uses (paginate, server_now, account_id)
and applies the filters extract.py sends (shopID, completed, `><`/`<=` ranges) the way the
API does, so windows are exercised for real. Tests against the real hook and emulator live
in test_emulator_*.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg2.extensions

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


class Boom(RuntimeError):
    """Injected from the page iterator to simulate a crash half-way through a read."""


class FakeLightspeed:
    def __init__(self, account_id: int = 7, now: datetime = T0, page_size: int = 100) -> None:
        self.account_id = account_id
        self.now = now
        self.page_size = page_size
        self.records: dict[str, dict[int, dict[str, Any]]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_after_pages: int | None = None
        self.bad: dict[str, list[Any]] = {}  # extra records served as is (malformed)

    _PK = {
        "Sale": "saleID",
        "EmployeeHours": "employeeHoursID",
        "Item": "itemID",
        "Category": "categoryID",
        "Employee": "employeeID",
        "Shop": "shopID",
        "Register": "registerID",
        "PaymentType": "paymentTypeID",
    }

    def put(self, endpoint: str, record: dict[str, Any]) -> None:
        self.records.setdefault(endpoint, {})[int(record[self._PK[endpoint]])] = record

    def delete(self, endpoint: str, record_id: int) -> None:
        del self.records[endpoint][record_id]

    def server_now(self) -> datetime:
        return self.now

    def paginate(self, entity: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        self.calls.append((entity, dict(params)))
        rows = [r for _, r in sorted(self.records.get(entity, {}).items()) if _matches(r, params)]
        rows += self.bad.get(entity, [])
        for number, start in enumerate(range(0, len(rows), self.page_size)):
            if self.fail_after_pages is not None and number >= self.fail_after_pages:
                raise Boom(f"injected failure after {number} pages")
            yield [copy.deepcopy(r) for r in rows[start : start + self.page_size]]


def _matches(record: dict[str, Any], params: dict[str, Any]) -> bool:
    for name, condition in params.items():
        if name in ("sort", "load_relations", "archived"):
            continue
        value = record.get(name)
        if isinstance(condition, tuple):
            if value is None:
                return False
            when = datetime.fromisoformat(value)
            op, *bounds = condition
            if op == "><" and not bounds[0] <= when <= bounds[1]:
                return False
            if op == "<=" and not when <= bounds[0]:
                return False
            if op == ">=" and not when >= bounds[0]:
                return False
        elif str(value) != str(condition):
            return False
    return True


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def make_sale(
    sale_id: int,
    *,
    shop_id: int = 1,
    completed_at: datetime = T0 - timedelta(hours=1),
    time_stamp: datetime | None = None,
    lines: list[tuple[int, str]] | None = None,
    voided: bool = False,
) -> dict[str, Any]:
    """A completed sale whose totals add up; `lines` = [(saleLineID, subtotal)]."""
    lines = (
        lines if lines is not None else [(sale_id * 10 + 1, "10.00"), (sale_id * 10 + 2, "5.50")]
    )
    subtotal = sum((Decimal(amount) for _, amount in lines), Decimal(0))
    stamp = iso(time_stamp or completed_at)
    return {
        "saleID": str(sale_id),
        "timeStamp": stamp,
        "completed": "true",
        "voided": "true" if voided else "false",
        "archived": "false",
        "completeTime": iso(completed_at),
        "createTime": iso(completed_at - timedelta(minutes=3)),
        "calcSubtotal": str(subtotal),
        "calcDiscount": "0",
        "calcTax1": "0",
        "calcTax2": "0",
        "calcTotal": str(subtotal),
        "total": str(subtotal),
        "shopID": str(shop_id),
        "registerID": "1",
        "employeeID": "2",
        "SaleLines": [
            {
                "saleLineID": str(line_id),
                "saleID": str(sale_id),
                "shopID": str(shop_id),
                "itemID": "3",
                "unitQuantity": "1",
                "unitPrice": amount,
                "calcSubtotal": amount,
                "calcLineDiscount": "0",
                "calcTransactionDiscount": "0",
                "calcTotal": amount,
                "timeStamp": stamp,
            }
            for line_id, amount in lines
        ],
        "SalePayments": [
            {
                "salePaymentID": str(sale_id * 10),
                "saleID": str(sale_id),
                "paymentTypeID": "1",
                "amount": str(subtotal),
            }
        ],
    }


def make_hours(
    hours_id: int, *, check_in: datetime, check_out: datetime | None, shop_id: int = 1
) -> dict[str, Any]:
    record = {
        "employeeHoursID": str(hours_id),
        "employeeID": "2",
        "shopID": str(shop_id),
        "checkIn": iso(check_in),
    }
    if check_out is not None:
        record["checkOut"] = iso(check_out)
    return record


def make_shop(shop_id: int, name: str = "Shop") -> dict[str, Any]:
    return {
        "shopID": str(shop_id),
        "name": f"{name} {shop_id}",
        "timeZone": "US/Eastern",
        "archived": "false",
        "timeStamp": iso(T0 - timedelta(days=30)),
    }


STAGING_TABLES = (
    "shop",
    "register",
    "payment_type",
    "category",
    "item",
    "item_price",
    "employee",
    "employee_hours",
    "sale",
    "sale_line",
    "sale_payment",
    "watermark",
    "load_log",
    "quarantine",
)


def snapshot(
    conn: psycopg2.extensions.connection,
    tables: tuple[str, ...] = STAGING_TABLES,
    exclude: tuple[str, ...] = (),
) -> dict[str, list[tuple]]:
    """Every row of the staging tables (sorted), minus the `exclude` columns."""
    out: dict[str, list[tuple]] = {}
    with conn.cursor() as cur:
        for table in tables:
            cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'lightspeed_staging' AND table_name = %s "
                "ORDER BY ordinal_position",
                (table,),
            )
            columns = [c for (c,) in cur.fetchall() if c not in exclude]
            cur.execute(
                f"SELECT {', '.join(columns)} FROM lightspeed_staging.{table}"  # noqa: S608
            )
            out[table] = sorted(cur.fetchall(), key=repr)
    conn.rollback()
    return out


# A Wednesday afternoon in the emulator's shops: the last days hold sales, shifts, voids.
EMULATOR_NOW = datetime(2026, 3, 4, 18, 7, tzinfo=UTC)
ENTITY_TABLES = STAGING_TABLES[:11]


def comparable(conn: psycopg2.extensions.connection) -> dict[str, list[tuple]]:
    """The entity tables as a report would see them: no loaded_at/run_id, and a closed
    shift's extracted_at (when it was last read, not data) left out."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE lightspeed_staging.employee_hours SET extracted_at = 'epoch' "
            "WHERE check_out IS NOT NULL"
        )
        result = snapshot(conn, ENTITY_TABLES, exclude=("loaded_at", "run_id"))
    return result  # snapshot() rolled the UPDATE back
