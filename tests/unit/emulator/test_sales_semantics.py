"""Business facts a warehouse relies on: totals reconcile, refunds, voids, layaways, shifts."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from .conftest import NOW, Emulator

FULL = "archived=true&load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D"


def _sales(emulator: Emulator) -> list[dict]:
    return emulator.all("Sale", FULL)


def _lines(sale: dict) -> list[dict]:
    return Emulator.records(sale.get("SaleLines", {}), "SaleLine")


def _payments(sale: dict) -> list[dict]:
    return Emulator.records(sale.get("SalePayments", {}), "SalePayment")


def test_sale_totals_reconcile_with_lines_and_payments_to_the_cent(emulator: Emulator) -> None:
    for sale in _sales(emulator):
        money = {
            k: Decimal(sale[k])
            for k in ("calcSubtotal", "calcDiscount", "calcTax1", "calcTax2", "total")
        }
        lines = _lines(sale)
        assert money["calcSubtotal"] == sum(Decimal(ln["calcSubtotal"]) for ln in lines)
        for line in lines:
            assert Decimal(line["calcSubtotal"]) == Decimal(line["unitQuantity"]) * Decimal(
                line["unitPrice"]
            )
        assert money["calcDiscount"] == sum(
            Decimal(ln["calcLineDiscount"]) + Decimal(ln["calcTransactionDiscount"]) for ln in lines
        )
        assert money["total"] == (
            money["calcSubtotal"] - money["calcDiscount"] + money["calcTax1"] + money["calcTax2"]
        )
        if sale["completed"] == "true":
            live = [p for p in _payments(sale) if p["archived"] == "false"]
            paid = sum(Decimal(p["amount"]) - Decimal(p["tipAmount"]) for p in live)
            assert paid == money["total"], sale["saleID"]


def test_the_mix_of_sales_is_realistic(emulator: Emulator) -> None:
    sales = _sales(emulator)
    lines = [ln for s in sales for ln in _lines(s)]
    assert {len(_lines(s)) for s in sales if s["completed"] == "true"} >= {1, 2, 3, 4}
    assert max(len(_lines(s)) for s in sales) <= 8
    assert any(ln["lineType"] == "item_fee" and ln["itemID"] == "0" for ln in lines)
    assert any(ln["isLayaway"] == "true" for ln in lines)
    assert any(Decimal(ln["calcLineDiscount"]) > 0 for ln in lines)
    assert any(Decimal(ln["calcTransactionDiscount"]) > 0 for ln in lines)
    assert any(len([p for p in _payments(s) if p["archived"] == "false"]) >= 2 for s in sales)
    assert any(p["archived"] == "true" for s in sales for p in _payments(s))
    voided = [s for s in sales if s["voided"] == "true"]
    assert voided and all(s["completed"] == "true" for s in voided)


def test_refunds_reverse_earlier_lines(emulator: Emulator) -> None:
    refunds = [s for s in _sales(emulator) if any(int(ln["unitQuantity"]) < 0 for ln in _lines(s))]
    assert refunds
    checked = 0
    for sale in refunds:
        assert Decimal(sale["total"]) < 0
        assert all(Decimal(p["amount"]) < 0 for p in _payments(sale))
        for line in _lines(sale):
            assert int(line["unitQuantity"]) < 0 and line["parentSaleLineID"] != "0"
            original = emulator.get("SaleLine", record_id=line["parentSaleLineID"])
            if original.status == 404:
                continue  # sold before the emulated history began
            original = original.body["SaleLine"]
            assert int(original["unitQuantity"]) >= -int(line["unitQuantity"])
            assert (
                original["itemID"] == line["itemID"] and original["unitPrice"] == line["unitPrice"]
            )
            assert original["timeStamp"] < line["timeStamp"]
            checked += 1
    assert checked


def test_late_voids_move_the_timestamp(emulator: Emulator) -> None:
    late = [
        s
        for s in _sales(emulator)
        if s["voided"] == "true"
        and datetime.fromisoformat(s["timeStamp"]) - datetime.fromisoformat(s["completeTime"])
        > timedelta(hours=8)
    ]
    assert late
    sale = late[0]
    voided_at = datetime.fromisoformat(sale["timeStamp"])
    assert sale["updatetime"] == sale["timeStamp"]
    in_window = emulator.all(
        "Sale", f"timeStamp=%3E%3D%2C{sale['timeStamp'].replace('+', '%2B')}&sort=timeStamp"
    )
    assert sale["saleID"] in [s["saleID"] for s in in_window]
    emulator.clock.set(voided_at - timedelta(minutes=1))
    before = emulator.ok("Sale", record_id=sale["saleID"])["Sale"]
    assert before["voided"] == "false" and before["timeStamp"] == sale["completeTime"]


def test_unattached_layaways_only_on_the_sale_line_endpoint(emulator: Emulator) -> None:
    reservations = emulator.all("SaleLine", "saleID=0")
    assert reservations and all(r["isLayaway"] == "true" for r in reservations)
    in_sales = {ln["saleLineID"] for s in _sales(emulator) for ln in _lines(s)}
    assert not in_sales & {r["saleLineID"] for r in reservations}


def test_shops_span_dst_and_non_dst_zones(make_emulator) -> None:
    shops = make_emulator(shops=5).api.shops()
    january, july = datetime(2024, 1, 15), datetime(2024, 7, 15)
    dst = [s for s in shops if ZoneInfo(s["timeZone"]).utcoffset(january) != ZoneInfo(s["timeZone"]).utcoffset(july)]  # fmt: skip
    assert dst and len(dst) < len(shops)
    assert "America/Phoenix" in {s["timeZone"] for s in shops}
    assert len({s["timeZone"] for s in shops}) == len(shops)


def test_sales_fall_in_local_opening_hours(emulator: Emulator) -> None:
    zones = {s["shopID"]: ZoneInfo(s["timeZone"]) for s in emulator.api.shops()}
    for sale in emulator.all("Sale", "completed=true"):
        local = datetime.fromisoformat(sale["completeTime"]).astimezone(zones[sale["shopID"]])
        assert 9 <= local.hour < 21


def test_shifts_cross_midnight_and_some_are_deleted_or_fixed_later(make_emulator) -> None:
    emulator = make_emulator(shops=4, days=6)
    window = "checkIn=%3C%2C2024-06-12T12%3A00%3A00Z"  # every edit to these is done by NOW
    zones = {s["shopID"]: ZoneInfo(s["timeZone"]) for s in emulator.api.shops()}
    final = {r["employeeHoursID"]: r for r in emulator.all("EmployeeHours", window)}
    assert any(
        datetime.fromisoformat(r["checkIn"]).astimezone(zones[r["shopID"]]).date()
        != datetime.fromisoformat(r["checkOut"]).astimezone(zones[r["shopID"]]).date()
        for r in final.values()
    )
    seen: dict[str, dict] = {}
    open_then: set[str] = set()
    for hours_back in range(2, 6 * 24, 1):  # edits come at least an hour after check-in
        emulator.clock.set(NOW - timedelta(hours=hours_back))
        for row in emulator.all("EmployeeHours", window):
            seen.setdefault(row["employeeHoursID"], row)
            if "checkOut" not in row:
                open_then.add(row["employeeHoursID"])
    deleted = set(seen) - set(final)
    assert deleted and set(final) <= set(seen)
    assert all(
        datetime.fromisoformat(seen[i]["checkOut"]) - datetime.fromisoformat(seen[i]["checkIn"])
        < timedelta(minutes=10)
        for i in deleted
        if "checkOut" in seen[i]
    )
    forgotten = [i for i in open_then & set(final) if "checkOut" in final[i]]
    assert forgotten  # open for a while, then fixed by a manager
