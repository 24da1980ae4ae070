"""The JSON quirks clients must survive: strings everywhere, one-or-many, omitted keys."""

from __future__ import annotations

from .conftest import Emulator


def _scalars(value, found: list) -> list:
    if isinstance(value, dict):
        for item in value.values():
            _scalars(item, found)
    elif isinstance(value, list):
        for item in value:
            _scalars(item, found)
    else:
        found.append(value)
    return found


def test_every_scalar_is_a_string(emulator: Emulator) -> None:
    for entity in ("Sale", "Item", "EmployeeHours", "Employee", "Shop", "PaymentType", "Register"):
        body = emulator.ok(entity, "archived=true&load_relations=all&limit=100")
        assert all(isinstance(v, str) for v in _scalars(body, [])), entity


def test_one_result_is_an_object_and_several_a_list(emulator: Emulator) -> None:
    assert isinstance(emulator.ok("Sale", "limit=1")["Sale"], dict)
    assert isinstance(emulator.ok("Sale", "limit=2")["Sale"], list)
    assert isinstance(emulator.ok("Item", "itemID=7")["Item"], dict)


def test_no_match_has_no_entity_key(emulator: Emulator) -> None:
    body = emulator.ok("Sale", "saleID=1")
    assert body == {"@attributes": {"next": "", "previous": ""}}


def test_relations_follow_one_or_many_and_empty_ones_are_omitted(emulator: Emulator) -> None:
    sales = emulator.all(
        "Sale", "archived=true&load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D"
    )
    shapes = {type(s["SaleLines"]["SaleLine"]) for s in sales if "SaleLines" in s}
    assert shapes == {dict, list}
    incomplete = [s for s in sales if s["completed"] == "false"]
    assert incomplete and all("completeTime" not in s for s in incomplete)
    assert any("SaleLines" not in s for s in incomplete)
    assert any("SalePayments" not in s for s in incomplete)
    zero_payments = [
        p
        for s in incomplete
        for p in emulator.records(s.get("SalePayments", {}), "SalePayment")
        if p["amount"] == "0.00"
    ]
    assert zero_payments
    assert all(s["customerID"] == "0" for s in sales)  # foreign key "0" = none


def test_single_record_envelope_and_404s(emulator: Emulator) -> None:
    sale = emulator.ok("Sale", "limit=1")["Sale"]
    body = emulator.ok("Sale", "load_relations=%5B%22SaleLines%22%5D", record_id=sale["saleID"])
    assert body["@attributes"] == {"count": "1"}
    assert body["Sale"]["saleID"] == sale["saleID"] and "SaleLines" in body["Sale"]
    missing = emulator.get("Sale", record_id="12345")
    assert missing.status == 404
    assert set(missing.body) == {"httpCode", "httpMessage", "message", "errorClass"}
    assert missing.body["httpCode"] == "404"
    assert emulator.get("Sale", record_id="abc").status == 404
    unknown = emulator.get("Customer")
    assert unknown.status == 404 and "Available" in unknown.body["message"]


def test_open_shift_has_no_check_out(emulator: Emulator) -> None:
    hours = emulator.all("EmployeeHours")
    assert any("checkOut" not in row for row in hours)
    assert all("checkIn" in row for row in hours)


def test_item_prices_are_always_there(emulator: Emulator) -> None:
    items = emulator.all("Item", "archived=true")
    assert 200 <= len(items) <= 1000
    for item in items:
        kinds = [p["useType"] for p in item["Prices"]["ItemPrice"]]
        assert kinds == ["Default", "MSRP", "Online"]
    archived = emulator.all("Item", "archived=only")
    assert 0 < len(archived) < len(items) / 10


def test_category_tree_and_parent_relation(emulator: Emulator) -> None:
    categories = emulator.all("Category", "load_relations=%5B%22Parent%22%5D")
    children = [c for c in categories if c["parentID"] != "0"]
    assert children and all("/" in c["fullPathName"] for c in children)
    for child in children:
        assert child["Parent"]["categoryID"] == child["parentID"]
        assert child["fullPathName"].startswith(child["Parent"]["fullPathName"] + "/")
    assert all("Parent" not in c for c in categories if c["parentID"] == "0")


def test_account_list_shape(emulator: Emulator) -> None:
    body = emulator.api.account_list()
    assert body["@attributes"] == {"count": "1"}
    assert body["Account"]["accountID"] == "120645"
    assert body["Account"]["link"] == {"@attributes": {"href": "/API/V3/Account/120645"}}
    assert [s["shopID"] for s in emulator.api.shops()] == ["1", "2", "3"]
