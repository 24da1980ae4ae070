from __future__ import annotations

import pytest

from lightspeed.normalize import attributes, get_ci, one_or_many, records, update_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ({}, []),
        ({"a": "1"}, [{"a": "1"}]),
        ([{"a": "1"}, {"a": "2"}], [{"a": "1"}, {"a": "2"}]),
        ([], []),
        ("x", ["x"]),
    ],
)
def test_one_or_many(value: object, expected: list) -> None:
    assert one_or_many(value) == expected


def test_absent_entity_key_is_an_empty_page() -> None:
    assert records({"@attributes": {"next": "", "previous": ""}}, "Sale") == []
    assert records(None, "Sale") == []


def test_single_record_object_becomes_a_list() -> None:
    assert records({"Employee": {"employeeID": "4"}}, "Employee") == [{"employeeID": "4"}]


def test_sale_relations_become_lists_in_every_shape() -> None:
    payload = {
        "Sale": [
            {
                "saleID": "1",
                "SaleLines": {"SaleLine": {"saleLineID": "10"}},
                "SalePayments": {"SalePayment": [{"salePaymentID": "5"}, {"salePaymentID": "6"}]},
            },
            {"saleID": "2"},  # empty relations are omitted
            {"saleID": "3", "SaleLines": "", "SalePayments": {"SalePayment": []}},
        ]
    }
    sales = records(payload, "Sale")
    assert sales[0]["SaleLines"] == [{"saleLineID": "10"}]
    assert [p["salePaymentID"] for p in sales[0]["SalePayments"]] == ["5", "6"]
    assert "SaleLines" not in sales[1]  # absent stays absent: the caller reads .get(..., [])
    assert sales[2]["SaleLines"] == [] and sales[2]["SalePayments"] == []


def test_nested_relations_and_objects_are_normalized_recursively() -> None:
    payload = {
        "Sale": {
            "saleID": "1",
            "SaleLines": {
                "SaleLine": {
                    "saleLineID": "10",
                    "Item": {
                        "itemID": "7",
                        "Prices": {"ItemPrice": {"amount": "1.50", "useType": "Default"}},
                    },
                }
            },
            "Customer": {
                "Contact": {
                    "Addresses": "",
                    "Phones": {"ContactPhone": {"number": "1"}},
                    "Emails": "",
                    "Websites": "",
                }
            },
        }
    }
    (sale,) = records(payload, "Sale")
    line = sale["SaleLines"][0]
    assert line["Item"]["Prices"] == [{"amount": "1.50", "useType": "Default"}]
    contact = sale["Customer"]["Contact"]
    assert contact["Addresses"] == [] and contact["Emails"] == [] and contact["Websites"] == []
    assert contact["Phones"] == [{"number": "1"}]


def test_item_prices_always_a_list_and_values_stay_strings() -> None:
    payload = {
        "Item": {
            "itemID": "7",
            "archived": "false",
            "Prices": {
                "ItemPrice": [
                    {"amount": "100", "useTypeID": "1", "useType": "Default"},
                    {"amount": "0", "useTypeID": "2", "useType": "MSRP"},
                ]
            },
        }
    }
    (item,) = records(payload, "Item")
    assert [p["useType"] for p in item["Prices"]] == ["Default", "MSRP"]
    assert item["archived"] == "false" and item["Prices"][0]["amount"] == "100"


def test_link_attributes_inside_objects_are_kept() -> None:
    payload = {
        "Account": {"accountID": "1", "link": {"@attributes": {"href": "/API/V3/Account/1"}}}
    }
    (account,) = records(payload, "Account")
    assert account["link"]["@attributes"]["href"] == "/API/V3/Account/1"


@pytest.mark.parametrize("key", ["updatetime", "updateTime", "UPDATETIME"])
def test_updatetime_is_read_case_insensitively(key: str) -> None:
    record = {key: "2024-01-01T00:00:00+00:00"}
    assert update_time(record) == "2024-01-01T00:00:00+00:00"
    assert get_ci(record, "updateTime") == "2024-01-01T00:00:00+00:00"


def test_missing_updatetime_is_none() -> None:
    assert update_time({"timeStamp": "x"}) is None
    assert update_time({"updatetime": ""}) is None


def test_attributes_block() -> None:
    assert attributes({"@attributes": {"count": "3"}}) == {"count": "3"}
    assert attributes({}) == {}
