"""Operators, archived modes, sort whitelist, limit and count=1, raw and encoded alike."""

from __future__ import annotations

from datetime import datetime

import pytest

from .conftest import NOW, Emulator

OPERATOR_CASES = [
    ("itemID", "=,7", lambda i: i == 7),
    ("itemID", ">,470", lambda i: i > 470),
    ("itemID", ">=,470", lambda i: i >= 470),
    ("itemID", "<,5", lambda i: i < 5),
    ("itemID", "<=,5", lambda i: i <= 5),
    ("itemID", "><,10,20", lambda i: 10 <= i <= 20),  # inclusive at both ends
    ("itemID", "!=,3", lambda i: i != 3),
    ("itemID", "IN,[1,5,9]", lambda i: i in (1, 5, 9)),
    ("itemID", 'IN,["2","4"]', lambda i: i in (2, 4)),
    ("itemID", "11", lambda i: i == 11),  # a bare value means equality
]


@pytest.mark.parametrize(("field", "value", "expected"), OPERATOR_CASES)
def test_operators_raw_and_encoded(emulator: Emulator, field, value, expected) -> None:
    everything = emulator.all("Item", "archived=true")
    wanted = [i["itemID"] for i in everything if expected(int(i["itemID"]))]
    pairs = [(field, value), ("archived", "true")]
    for query in (emulator.encoded(pairs), emulator.raw(pairs)):
        assert [i["itemID"] for i in emulator.all("Item", query)] == wanted


def test_like_and_not_like(emulator: Emulator) -> None:
    everything = emulator.all("Item")
    tents = [i["itemID"] for i in everything if "tent" in i["description"].lower()]
    assert tents
    for query in ("description=~,%25tent%25", emulator.encoded([("description", "~,%Tent%")])):
        assert [i["itemID"] for i in emulator.all("Item", query)] == tents
    rest = emulator.all("Item", emulator.encoded([("description", "!~,%Tent%")]))
    assert len(rest) + len(tents) == len(everything)


@pytest.mark.parametrize(
    "value",
    [
        "2024-06-13T12:00:00%2B00:00",  # the careful client
        "2024-06-13T12:00:00Z",
        "2024-06-13T12:00:00.000Z",
        "2024-06-13T08:00:00-0400",  # the same instant in Eastern daylight time
        "2024-06-13T08:00:00-04:00",
    ],
)
def test_timestamp_filters_compare_instants(emulator: Emulator, value: str) -> None:
    expected = emulator.all("Sale", "timeStamp=%3E%3D%2C2024-06-13T12%3A00%3A00%2B00%3A00")
    assert expected
    assert emulator.all("Sale", f"timeStamp=>=,{value}") == expected


def test_a_bare_date_is_midnight_utc(emulator: Emulator) -> None:
    sales = emulator.all("Sale", "completeTime=<,2024-06-13")
    assert sales
    assert all(s["completeTime"] < "2024-06-13T00:00:00+00:00" for s in sales)


def test_an_unencoded_plus_is_a_400_that_says_how_to_fix_it(emulator: Emulator) -> None:
    response = emulator.get("Sale", "timeStamp=>=,2024-06-13T12:00:00+00:00")
    assert response.status == 400
    assert "%2B" in response.body["message"] and "space" in response.body["message"]


def test_archived_modes(emulator: Emulator) -> None:
    def count(query: str) -> int:
        return int(emulator.ok("Sale", f"count=1&{query}")["@attributes"]["count"])

    hidden, both, only = count("archived=false"), count("archived=true"), count("archived=only")
    assert only > 0 and hidden + only == both
    assert count("") == hidden  # false is the default
    archived = emulator.all("Sale", "archived=only")
    assert all(s["archived"] == "true" and s["completed"] == "false" for s in archived)
    assert emulator.get("Sale", "archived=maybe").status == 400


def test_sort_whitelist_error_names_the_allowed_fields(emulator: Emulator) -> None:
    response = emulator.get("Sale", "sort=total")
    assert response.status == 400
    assert "saleID, timeStamp, completeTime, updatetime" in response.body["message"]
    hours = emulator.get("EmployeeHours", "sort=checkIn")
    assert hours.status == 400 and "Sortable fields: employeeHoursID;" in hours.body["message"]


def test_limit_is_capped_at_100(emulator: Emulator) -> None:
    assert len(emulator.ok("SaleLine", "limit=500")["SaleLine"]) == 100
    assert len(emulator.ok("SaleLine")["SaleLine"]) == 100
    assert emulator.get("SaleLine", "limit=ten").status == 400


def test_count_returns_only_the_count_and_refuses_paging_params(emulator: Emulator) -> None:
    body = emulator.ok("SalePayment", "count=1&archived=true")
    assert body == {
        "@attributes": {"count": str(len(emulator.all("SalePayment", "archived=true")))}
    }
    for extra in ("limit=10", "sort=saleID", "after=WzFd", "before=WzFd"):
        response = emulator.get("SalePayment", f"count=1&{extra}")
        assert response.status == 400 and "count=1" in response.body["message"]


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ("offset=100", "removed in API V3"),
        ("load_relations=SaleLines", "JSON array"),
        ("load_relations=%5B%22Customerz%22%5D", "Unknown relation"),
        ("totalz=5", "not a field of Sale"),
        ("saleID=abc", "not a number"),
        ("completed=maybe", "not a boolean"),
        ("timeStamp=><,2024-06-01", "exactly two values"),
        ("after=not-a-cursor", "cursor"),
    ],
)
def test_bad_queries_are_400s_with_a_useful_message(
    emulator: Emulator, query: str, phrase: str
) -> None:
    response = emulator.get("Sale", query)
    assert response.status == 400
    assert phrase in response.body["message"]
    assert response.body["httpMessage"] == "Bad Request"


def test_window_filters_respect_shop_and_time(emulator: Emulator) -> None:
    sales = emulator.all(
        "Sale",
        "shopID=2&completeTime=%3E%3C%2C2024-06-12T00%3A00%3A00Z%2C2024-06-12T23%3A59%3A59Z",
    )
    assert sales
    for sale in sales:
        assert sale["shopID"] == "2"
        assert "2024-06-12T00:00:00" <= sale["completeTime"][:19] <= "2024-06-12T23:59:59"
        assert datetime.fromisoformat(sale["completeTime"]) <= NOW
