"""transform.py: typed rows from normalized records, or a quarantine reason; never a crash."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightspeed import entities
from lightspeed.transform import Context, Rejected, Rows, transform_record

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
CTX = Context(account_id=7, extracted_at=NOW, shop_id=1, known_shop_ids=frozenset({1, 2}))


def sale(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "saleID": "44",
        "timeStamp": "2026-05-04T10:00:05+00:00",
        "completed": "true",
        "voided": "false",
        "archived": "false",
        "createTime": "2026-05-04T09:58:00+00:00",
        "completeTime": "2026-05-04T10:00:05+00:00",
        "updatetime": "2026-05-04T10:00:05+00:00",
        "calcSubtotal": "30.5",
        "calcDiscount": "1.25",
        "calcTax1": "2.1",
        "calcTax2": "0",
        "calcTotal": "31.35",
        "total": "31.35",
        "shopID": "1",
        "registerID": "3",
        "employeeID": "5",
        "customerID": "0",
        "SaleLines": [
            {
                "saleLineID": "101",
                "saleID": "44",
                "shopID": "1",
                "itemID": "9",
                "unitQuantity": "2",
                "unitPrice": "10.25",
                "calcSubtotal": "20.5",
                "calcLineDiscount": "1.25",
                "calcTransactionDiscount": "0",
                "calcTotal": "19.25",
                "parentSaleLineID": "0",
                "isLayaway": "false",
                "timeStamp": "2026-05-04T10:00:05+00:00",
            },
            {
                "saleLineID": "102",
                "saleID": "44",
                "itemID": "0",
                "unitQuantity": "1",
                "unitPrice": "10",
                "calcSubtotal": "10",
                "calcLineDiscount": "0",
                "calcTransactionDiscount": "0",
                "calcTotal": "10",
            },
        ],
        "SalePayments": [
            {"salePaymentID": "900", "saleID": "44", "paymentTypeID": "1", "amount": "31.35"}
        ],
    }
    record.update(overrides)
    return record


def test_valid_sale_gives_typed_rows_for_sale_lines_and_payments() -> None:
    result = transform_record(entities.SALES, sale(), CTX)
    assert isinstance(result, Rows)
    assert result.key == "44"
    (row,) = result.rows["sale"]
    typed = dict(zip(entities.SALE.columns, row, strict=True))
    assert typed["sale_id"] == 44 and typed["account_id"] == 7 and typed["shop_id"] == 1
    assert typed["customer_id"] is None  # "0" means none
    assert typed["completed"] is True and typed["voided"] is False
    assert typed["calc_subtotal"] == Decimal("30.5000")
    assert typed["complete_time"] == datetime(2026, 5, 4, 10, 0, 5, tzinfo=UTC)
    assert "SaleLines" not in typed["raw"]  # lines keep their own raw in sale_line
    lines = [
        dict(zip(entities.SALE_LINE.columns, r, strict=True)) for r in result.rows["sale_line"]
    ]
    assert [line["sale_line_id"] for line in lines] == [101, 102]
    assert lines[1]["item_id"] is None and lines[1]["shop_id"] == 1
    assert len(result.rows["sale_payment"]) == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"saleID": None}, "missing saleID"),
        ({"saleID": "abc"}, "saleID is not an integer"),
        ({"calcSubtotal": "12,50"}, "calcSubtotal is not a number"),
        ({"calcTotal": "NaN"}, "calcTotal is not a number"),
        ({"calcTotal": "12345678901"}, "out of range"),
        ({"timeStamp": "yesterday"}, "timeStamp is not a timestamp"),
        ({"timeStamp": "2026-05-04T10:00:00"}, "no UTC offset"),
        ({"shopID": "3"}, "shop 1 was requested"),
        ({"calcSubtotal": "31.5"}, "does not equal the sum"),
        ({"calcDiscount": "0"}, "does not equal the sum"),
        ({"voided": "maybe"}, "voided is not a boolean"),
        ({"employeeID": ["5"]}, "employeeID is not an integer"),
        ({"SaleLines": "oops"}, "SaleLines is not a list"),
        ({"note": "a\x00b"}, "NUL"),
    ],
)
def test_bad_sale_is_rejected_whole_with_a_reason(overrides: dict, reason: str) -> None:
    result = transform_record(entities.SALES, sale(**overrides), CTX)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_sale_of_a_shop_outside_the_config_is_rejected() -> None:
    ctx = Context(account_id=7, extracted_at=NOW, shop_id=None, known_shop_ids=frozenset({2}))
    result = transform_record(entities.SALES, sale(), ctx)
    assert isinstance(result, Rejected) and "not in the shop configuration" in result.reason


def test_a_line_of_another_sale_rejects_the_whole_sale() -> None:
    record = sale()
    record["SaleLines"][1]["saleID"] = "45"
    result = transform_record(entities.SALES, record, CTX)
    assert isinstance(result, Rejected)
    assert result.key == "44" and "saleID 45" in result.reason


def test_open_shift_and_closed_shift() -> None:
    shift = {
        "employeeHoursID": "8",
        "employeeID": "4",
        "shopID": "1",
        "checkIn": "2026-05-04T08:00:00+00:00",
    }
    result = transform_record(entities.EMPLOYEE_HOURS, shift, CTX)
    assert isinstance(result, Rows)
    typed = dict(
        zip(entities.EMPLOYEE_HOURS_TABLE.columns, result.rows["employee_hours"][0], strict=True)
    )
    assert typed["check_out"] is None and typed["extracted_at"] == NOW
    backwards = transform_record(
        entities.EMPLOYEE_HOURS, {**shift, "checkOut": "2026-05-04T07:00:00+00:00"}, CTX
    )
    assert isinstance(backwards, Rejected) and "before checkIn" in backwards.reason


def test_item_prices_and_default_price() -> None:
    item = {
        "itemID": "12",
        "description": " Tent ",
        "archived": "true",
        "timeStamp": "2026-05-01T00:00:00+00:00",
        "Prices": [
            {"amount": "100", "useTypeID": "1", "useType": "Default"},
            {"amount": "120", "useTypeID": "2", "useType": "MSRP"},
        ],
    }
    result = transform_record(entities.ITEMS, item, CTX)
    assert isinstance(result, Rows)
    typed = dict(zip(entities.ITEM.columns, result.rows["item"][0], strict=True))
    assert typed["description"] == "Tent" and typed["default_price"] == Decimal("100.0000")
    assert typed["archived"] is True
    assert [r[2] for r in result.rows["item_price"]] == [1, 2]
    dup = copy.deepcopy(item)
    dup["Prices"][1]["useTypeID"] = "1"
    assert isinstance(transform_record(entities.ITEMS, dup, CTX), Rejected)


def test_shop_without_time_zone_is_rejected() -> None:
    result = transform_record(entities.SHOPS, {"shopID": "1", "name": "A"}, CTX)
    assert isinstance(result, Rejected) and "timeZone" in result.reason


# --- fuzz: any JSON-ish input, and valid records with one field replaced by anything ---

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["0", "1", "-1", "1e400", "9" * 30, "2026-05-04T10:00:00+00:00", "true"])
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
_ENTITY_NAMES = sorted(entities.BY_NAME)


def _assert_whole(entity: entities.Entity, result: Rows | Rejected) -> None:
    if isinstance(result, Rejected):
        assert isinstance(result.reason, str) and result.reason
        return
    tables = {t.name: t for t in entity.tables}
    assert set(result.rows) == set(tables)
    assert len(result.rows[entity.table.name]) == 1
    for name, rows in result.rows.items():
        for row in rows:
            assert len(row) == len(tables[name].columns)
            for value in row:
                assert value is None or isinstance(value, int | str | bool | Decimal | datetime)
                if isinstance(value, str):
                    assert "\x00" not in value
                    value.encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(_ENTITY_NAMES), record=_json)
def test_fuzz_any_input_never_raises(name: str, record: Any) -> None:
    entity = entities.BY_NAME[name]
    _assert_whole(entity, transform_record(entity, record, CTX))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=_json)
def test_fuzz_one_field_of_a_valid_sale_replaced(data: st.DataObject, value: Any) -> None:
    record = sale()
    target: dict[str, Any] = record
    where = data.draw(st.sampled_from(["sale", "line", "payment"]))
    if where == "line":
        target = record["SaleLines"][data.draw(st.integers(0, 1))]
    elif where == "payment":
        target = record["SalePayments"][0]
    field = data.draw(st.sampled_from(sorted(target)))
    target[field] = value
    result = transform_record(entities.SALES, record, CTX)
    _assert_whole(entities.SALES, result)
    if isinstance(result, Rows) and field not in ("SaleLines", "SalePayments"):
        # Whole: one sale, every line and payment of the record, never fewer.
        assert len(result.rows["sale_line"]) == 2 and len(result.rows["sale_payment"]) == 1


@pytest.mark.parametrize("amount", ["9999999999.99995", "-9999999999.99996", "1e10"])
def test_amounts_that_would_overflow_numeric_14_4_are_rejected(amount: str) -> None:
    result = transform_record(entities.SALES, sale(calcTax1=amount), CTX)
    assert isinstance(result, Rejected) and "out of range" in result.reason
