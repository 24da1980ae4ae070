"""Normalized API record -> typed staging rows, or the reason it is quarantined.

Pure functions: no I/O, no clock. `transform_record` never raises on bad input and never
returns part of a record: a sale comes back with its sale row, all its lines and payments,
or as one `Rejected` with the first problem found. Everything that reaches COPY has been
checked against what PostgreSQL would refuse (numeric(14,4) overflow, bigint range, NUL
characters, lone surrogates, naive or out-of-range timestamps), so a bad record can never
abort the load transaction.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lightspeed.entities import (
    CATEGORY,
    EMPLOYEE,
    EMPLOYEE_HOURS_TABLE,
    ITEM,
    ITEM_PRICE,
    PAYMENT_TYPE,
    REGISTER,
    SALE,
    SALE_LINE,
    SALE_PAYMENT,
    SHOP,
    Entity,
    Table,
)

Row = tuple[Any, ...]

# numeric(14, 4): ten integer digits. PostgreSQL rounds half away from zero on input; doing
# the same here keeps the IS DISTINCT FROM comparison in the upsert exact.
_MONEY_QUANTUM = Decimal("0.0001")
_MONEY_LIMIT = Decimal(10) ** 10
_BIGINT_MAX = 2**63 - 1
_INT_RE = re.compile(r"-?[0-9]{1,19}")
_MAX_DEPTH = 32
# Lines and sale amounts are unrounded strings ("51.73875"); after rounding each to 4 places
# the sums may drift by a few ten-thousandths, never by a cent.
SUM_TOLERANCE = Decimal("0.01")
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?")

_LINE_ID = SALE_LINE.columns.index("sale_line_id")
_LINE_SUBTOTAL = SALE_LINE.columns.index("calc_subtotal")
_LINE_DISCOUNT = SALE_LINE.columns.index("calc_line_discount")
_LINE_TX_DISCOUNT = SALE_LINE.columns.index("calc_transaction_discount")
_PAYMENT_ID = SALE_PAYMENT.columns.index("sale_payment_id")
_PRICE_USE_TYPE = ITEM_PRICE.columns.index("use_type_id")


@dataclass(frozen=True)
class Context:
    """What a transform needs beyond the record.

    Attributes:
        account_id: The Lightspeed account the rows belong to.
        shop_id: The shop the request was filtered on (shop-scoped entities), else None.
        known_shop_ids: Shops the caller configured; a record of any other shop is rejected.
            None disables the check.
        extracted_at: The API's clock when the page was read (EmployeeHours.extracted_at).
    """

    account_id: int
    extracted_at: datetime
    shop_id: int | None = None
    known_shop_ids: frozenset[int] | None = None


@dataclass
class Rows:
    """A record that passed: its rows per staging table, in the table's column order."""

    key: str
    rows: dict[str, list[Row]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A record that failed: why, and its ID when one could be read."""

    key: str | None
    reason: str


Result = Rows | Rejected


class _Bad(Exception):
    """Internal: a record fails validation; carries the quarantine reason."""


# --- value parsers: each returns a typed value or raises _Bad with a reason a human reads ---


def _get(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None and name.lower() == "updatetime":
        # The API spells it updatetime on Sale, updateTime elsewhere and in older docs.
        for key, candidate in record.items():
            if isinstance(key, str) and key.lower() == "updatetime":
                return candidate
    return value


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _Bad(f"{name} is not an integer: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise _Bad(f"{name} is not an integer: {_short(value)}")
    if not -_BIGINT_MAX <= number <= _BIGINT_MAX:
        raise _Bad(f"{name} is out of range: {number}")
    return number


def _id(record: Mapping[str, Any], name: str) -> int:
    """A required positive ID."""
    value = _get(record, name)
    if value is None or value == "":
        raise _Bad(f"missing {name}")
    number = _int(value, name)
    if number <= 0:
        raise _Bad(f"{name} must be positive, got {number}")
    return number


def _fk(record: Mapping[str, Any], name: str) -> int | None:
    """An optional reference: missing, "" and "0" all mean none."""
    value = _get(record, name)
    if value is None or value == "":
        return None
    number = _int(value, name)
    return number if number > 0 else None


def _money(record: Mapping[str, Any], name: str, default: Decimal | None = None) -> Decimal | None:
    value = _get(record, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _Bad(f"{name} is not a number: {value!r}")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _Bad(f"{name} is not a finite number: {value!r}")
            amount = Decimal(repr(value))
        elif isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, str) and _DECIMAL_RE.fullmatch(value.strip()):
            amount = Decimal(value.strip())
        else:
            raise _Bad(f"{name} is not a number: {_short(value)}")
        if not amount.is_finite():
            raise _Bad(f"{name} is not a finite number: {_short(value)}")
        if abs(amount) >= _MONEY_LIMIT:
            raise _Bad(f"{name} is out of range for numeric(14,4): {_short(value)}")
        amount = amount.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_UP)
        if abs(amount) >= _MONEY_LIMIT:  # 9999999999.99995 rounds up past the limit
            raise _Bad(f"{name} is out of range for numeric(14,4): {_short(value)}")
        return amount
    except (InvalidOperation, ValueError):
        raise _Bad(f"{name} is not a number: {_short(value)}") from None


def _required_money(record: Mapping[str, Any], name: str) -> Decimal:
    amount = _money(record, name)
    if amount is None:
        raise _Bad(f"missing {name}")
    return amount


def _time(record: Mapping[str, Any], name: str) -> datetime | None:
    value = _get(record, name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(f"{name} is not a timestamp: {_short(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise _Bad(f"{name} has no UTC offset: {_short(value)}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Bad(f"{name} is not a timestamp: {_short(value)}") from None


def _required_time(record: Mapping[str, Any], name: str) -> datetime:
    parsed = _time(record, name)
    if parsed is None:
        raise _Bad(f"missing {name}")
    return parsed


def _bool(record: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = _get(record, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise _Bad(f"{name} is not a boolean: {_short(value)}")


def _text(record: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """Trimmed text (the API leaves stray spaces); raw keeps the original."""
    value = _get(record, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(f"{name} is not text: {_short(value)}")
    return str(value).strip()


def _list(record: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = record.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        value = [value]  # tolerate a relation the hook left as a single object
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _Bad(f"{name} is not a list of records: {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- raw JSON: checked once for the whole record, so typed text needs no further check ---


def _check_json(value: Any) -> None:
    """Refuse what jsonb or COPY would refuse: NUL, lone surrogates, NaN, absurd nesting."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise _Bad(f"record is nested deeper than {_MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > 10**100:
                raise _Bad("record holds an absurdly large number")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _Bad(f"record holds a non-finite number: {item!r}")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise _Bad(f"record has a non-text key: {_short(key)}")
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        else:
            raise _Bad(f"record holds a value that is not JSON: {type(item).__name__}")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise _Bad("text contains a NUL character, which PostgreSQL cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("text is not valid Unicode (lone surrogate)") from None


def to_json(value: Any) -> str:
    """Compact JSON of a value already accepted by `_check_json`."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sanitize_for_quarantine(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of anything, so the quarantine insert itself can never fail."""
    if depth > _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000").encode("utf-8", "replace").decode("utf-8")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 10**100 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {
            sanitize_for_quarantine(str(k), depth + 1): sanitize_for_quarantine(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [sanitize_for_quarantine(v, depth + 1) for v in value]
    return sanitize_for_quarantine(repr(value), depth + 1)


def _row(table: Table, **values: Any) -> Row:
    """The row in the table's column order; a missing column is a programming error."""
    return tuple(values[name] for name in table.columns)


def _check_shop(shop_id: int, ctx: Context, what: str) -> None:
    if ctx.shop_id is not None and shop_id != ctx.shop_id:
        raise _Bad(f"{what} belongs to shop {shop_id}, but shop {ctx.shop_id} was requested")
    if ctx.known_shop_ids is not None and shop_id not in ctx.known_shop_ids:
        raise _Bad(f"{what} belongs to shop {shop_id}, which is not in the shop configuration")


# --- one function per entity: record -> {table: rows} ---


def _sale(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    sale_id = _id(record, "saleID")
    shop_id = _id(record, "shopID")
    _check_shop(shop_id, ctx, "sale")
    lines = [_sale_line(line, sale_id, shop_id, ctx) for line in _list(record, "SaleLines")]
    payments = [_sale_payment(p, sale_id, ctx) for p in _list(record, "SalePayments")]
    _unique([r[_LINE_ID] for r in lines], "saleLineID")
    _unique([r[_PAYMENT_ID] for r in payments], "salePaymentID")
    subtotal = _required_money(record, "calcSubtotal")
    discount = _money(record, "calcDiscount", Decimal(0))
    _check_sum(subtotal, [r[_LINE_SUBTOTAL] for r in lines], "calcSubtotal", "lines' calcSubtotal")
    line_discounts = [(r[_LINE_DISCOUNT] or 0) + (r[_LINE_TX_DISCOUNT] or 0) for r in lines]
    _check_sum(discount, line_discounts, "calcDiscount", "lines' discounts")
    parent = {k: v for k, v in record.items() if k not in ("SaleLines", "SalePayments")}
    sale = _row(
        SALE,
        account_id=ctx.account_id,
        sale_id=sale_id,
        shop_id=shop_id,
        register_id=_fk(record, "registerID"),
        employee_id=_fk(record, "employeeID"),
        customer_id=_fk(record, "customerID"),
        completed=_bool(record, "completed"),
        voided=_bool(record, "voided"),
        archived=_bool(record, "archived"),
        create_time=_time(record, "createTime"),
        complete_time=_time(record, "completeTime"),
        update_time=_time(record, "updatetime"),
        time_stamp=_required_time(record, "timeStamp"),
        calc_subtotal=subtotal,
        calc_discount=discount,
        calc_tax1=_money(record, "calcTax1", Decimal(0)),
        calc_tax2=_money(record, "calcTax2", Decimal(0)),
        calc_total=_required_money(record, "calcTotal"),
        total=_money(record, "total"),
        raw=to_json(parent),
    )
    return {SALE.name: [sale], SALE_LINE.name: lines, SALE_PAYMENT.name: payments}


def _sale_line(line: Mapping[str, Any], sale_id: int, shop_id: int, ctx: Context) -> Row:
    line_id = _id(line, "saleLineID")
    line_sale = _fk(line, "saleID")
    if line_sale is not None and line_sale != sale_id:
        raise _Bad(f"sale line {line_id} has saleID {line_sale}, but sits in sale {sale_id}")
    line_shop = _fk(line, "shopID")
    if line_shop is not None and line_shop != shop_id:
        raise _Bad(f"sale line {line_id} has shopID {line_shop}, but its sale is in {shop_id}")
    return _row(
        SALE_LINE,
        account_id=ctx.account_id,
        sale_line_id=line_id,
        sale_id=sale_id,
        shop_id=shop_id,
        item_id=_fk(line, "itemID"),
        line_type=_text(line, "lineType", ""),
        unit_quantity=_required_money(line, "unitQuantity"),
        unit_price=_required_money(line, "unitPrice"),
        calc_subtotal=_money(line, "calcSubtotal"),
        calc_line_discount=_money(line, "calcLineDiscount"),
        calc_transaction_discount=_money(line, "calcTransactionDiscount"),
        calc_total=_money(line, "calcTotal"),
        parent_sale_line_id=_fk(line, "parentSaleLineID"),
        is_layaway=_bool(line, "isLayaway"),
        time_stamp=_time(line, "timeStamp"),
        raw=to_json(line),
    )


def _sale_payment(payment: Mapping[str, Any], sale_id: int, ctx: Context) -> Row:
    payment_id = _id(payment, "salePaymentID")
    payment_sale = _fk(payment, "saleID")
    if payment_sale is not None and payment_sale != sale_id:
        raise _Bad(f"payment {payment_id} has saleID {payment_sale}, but sits in sale {sale_id}")
    return _row(
        SALE_PAYMENT,
        account_id=ctx.account_id,
        sale_payment_id=payment_id,
        sale_id=sale_id,
        payment_type_id=_fk(payment, "paymentTypeID"),
        amount=_required_money(payment, "amount"),
        tip_amount=_money(payment, "tipAmount", Decimal(0)),
        archived=_bool(payment, "archived"),
        create_time=_time(payment, "createTime"),
        raw=to_json(payment),
    )


def _unique(ids: list[int], name: str) -> None:
    if len(set(ids)) != len(ids):
        raise _Bad(f"duplicate {name} in one record")


def _check_sum(total: Decimal | None, parts: list[Any], name: str, what: str) -> None:
    summed = sum((p for p in parts if p is not None), Decimal(0))
    if total is not None and abs(total - summed) > SUM_TOLERANCE:
        raise _Bad(f"{name} {total} does not equal the sum of the {what} ({summed})")


def _employee_hours(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    hours_id = _id(record, "employeeHoursID")
    shop_id = _id(record, "shopID")
    _check_shop(shop_id, ctx, "time-clock entry")
    check_in = _required_time(record, "checkIn")
    check_out = _time(record, "checkOut")
    if check_out is not None and check_out < check_in:
        raise _Bad(f"checkOut {check_out.isoformat()} is before checkIn {check_in.isoformat()}")
    row = _row(
        EMPLOYEE_HOURS_TABLE,
        account_id=ctx.account_id,
        employee_hours_id=hours_id,
        employee_id=_id(record, "employeeID"),
        shop_id=shop_id,
        check_in=check_in,
        check_out=check_out,
        extracted_at=ctx.extracted_at,
        raw=to_json(record),
    )
    return {EMPLOYEE_HOURS_TABLE.name: [row]}


def _item(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    item_id = _id(record, "itemID")
    prices = record.get("Prices")
    if isinstance(prices, Mapping) and "ItemPrice" in prices:
        prices = {"Prices": prices["ItemPrice"]}  # tolerate an un-normalized envelope
    else:
        prices = {"Prices": prices}
    price_rows = []
    default_price = None
    for price in _list(prices, "Prices"):
        use_type_id = _id(price, "useTypeID")
        amount = _required_money(price, "amount")
        use_type = _text(price, "useType", "") or ""
        price_rows.append(
            _row(
                ITEM_PRICE,
                account_id=ctx.account_id,
                item_id=item_id,
                use_type_id=use_type_id,
                use_type=use_type,
                amount=amount,
            )
        )
        if use_type.lower() == "default" or (default_price is None and use_type_id == 1):
            default_price = amount
    _unique([r[_PRICE_USE_TYPE] for r in price_rows], "Prices useTypeID")
    item = _row(
        ITEM,
        account_id=ctx.account_id,
        item_id=item_id,
        description=_text(record, "description", ""),
        category_id=_fk(record, "categoryID"),
        item_type=_text(record, "itemType"),
        default_price=default_price,
        archived=_bool(record, "archived"),
        time_stamp=_time(record, "timeStamp"),
        raw=to_json(record),
    )
    return {ITEM.name: [item], ITEM_PRICE.name: price_rows}


def _category(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    row = _row(
        CATEGORY,
        account_id=ctx.account_id,
        category_id=_id(record, "categoryID"),
        name=_text(record, "name", ""),
        full_path_name=_text(record, "fullPathName"),
        parent_id=_fk(record, "parentID"),
        time_stamp=_time(record, "timeStamp"),
        raw=to_json(record),
    )
    return {CATEGORY.name: [row]}


# Changes at every clock-in without moving the employee's timeStamp, so no incremental read
# could keep it current; EmployeeHours holds the same facts, kept current by its window.
_EMPLOYEE_VOLATILE = ("clockInEmployeeHoursID",)


def _employee(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    stable = {k: v for k, v in record.items() if k not in _EMPLOYEE_VOLATILE}
    row = _row(
        EMPLOYEE,
        account_id=ctx.account_id,
        employee_id=_id(record, "employeeID"),
        first_name=_text(record, "firstName"),
        last_name=_text(record, "lastName"),
        archived=_bool(record, "archived"),
        lock_out=_bool(record, "lockOut"),
        time_stamp=_time(record, "timeStamp"),
        raw=to_json(stable),
    )
    return {EMPLOYEE.name: [row]}


def _shop(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    time_zone = _text(record, "timeZone")
    if not time_zone:
        raise _Bad("missing timeZone: reports cannot place the shop's sales in business days")
    row = _row(
        SHOP,
        account_id=ctx.account_id,
        shop_id=_id(record, "shopID"),
        name=_text(record, "name", ""),
        time_zone=time_zone,
        archived=_bool(record, "archived"),
        time_stamp=_time(record, "timeStamp"),
        raw=to_json(record),
    )
    return {SHOP.name: [row]}


def _register(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    row = _row(
        REGISTER,
        account_id=ctx.account_id,
        register_id=_id(record, "registerID"),
        shop_id=_id(record, "shopID"),
        name=_text(record, "name", ""),
        archived=_bool(record, "archived"),
        raw=to_json(record),
    )
    return {REGISTER.name: [row]}


def _payment_type(record: Mapping[str, Any], ctx: Context) -> dict[str, list[Row]]:
    row = _row(
        PAYMENT_TYPE,
        account_id=ctx.account_id,
        payment_type_id=_id(record, "paymentTypeID"),
        name=_text(record, "name", ""),
        type=_text(record, "type", ""),
        archived=_bool(record, "archived"),
        raw=to_json(record),
    )
    return {PAYMENT_TYPE.name: [row]}


TRANSFORMS: dict[str, Callable[[Mapping[str, Any], Context], dict[str, list[Row]]]] = {
    "sale": _sale,
    "employee_hours": _employee_hours,
    "item": _item,
    "category": _category,
    "employee": _employee,
    "shop": _shop,
    "register": _register,
    "payment_type": _payment_type,
}


def record_key(entity: Entity, record: Any) -> str | None:
    """The record's ID as text when it has a usable one (for quarantine rows and logs)."""
    if not isinstance(record, Mapping):
        return None
    value = record.get(entity.primary_key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if _INT_RE.fullmatch(text) else None


def transform_record(entity: Entity, record: Any, ctx: Context) -> Result:
    """Typed rows for every staging table of `entity`, or why the record is rejected.

    Args:
        entity: The declaration the record was read for.
        record: One normalized record as the hook yields it (values still strings).
        ctx: Account, requested shop, configured shops and the API's read time.

    Returns:
        `Rows` with one row for the entity's own table and zero or more per child table,
        or `Rejected` with a reason fit for the quarantine table. Never raises on bad data.
    """
    key = record_key(entity, record)
    if not isinstance(record, Mapping):
        return Rejected(key, f"record is not an object: {_short(record)}")
    try:
        _check_json(record)
        return Rows(key or "", TRANSFORMS[entity.name](record, ctx))
    except _Bad as bad:
        return Rejected(key, str(bad))
