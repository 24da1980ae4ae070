"""Cursor pagination: every record exactly once, in order, with next/previous as Lightspeed builds them."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from .conftest import BASE, Emulator

PK = {"Sale": "saleID", "SaleLine": "saleLineID", "SalePayment": "salePaymentID",
      "EmployeeHours": "employeeHoursID", "Item": "itemID"}  # fmt: skip


def _value(field: str, text: str | None):
    if text is None:
        return None
    if field in ("timeStamp", "completeTime", "updatetime", "createTime"):
        return datetime.fromisoformat(text)
    return int(text) if text.isdigit() else text


@pytest.mark.parametrize(
    ("entity", "sort"),
    [
        ("Sale", "saleID"), ("Sale", "-saleID"), ("Sale", "timeStamp"), ("Sale", "-timeStamp"),
        ("Sale", "completeTime"), ("Sale", "-completeTime"), ("Sale", "updatetime"),
        ("SaleLine", "saleID"), ("SaleLine", "-saleID"), ("SaleLine", "-timeStamp"),
        ("SalePayment", "timeStamp"), ("EmployeeHours", "-employeeHoursID"),
        ("Item", "description"),
    ],
)  # fmt: skip
def test_every_record_once_in_order(emulator: Emulator, entity: str, sort: str) -> None:
    pk = PK[entity]
    reference = {r[pk] for r in emulator.all(entity, "archived=true")}
    rows = emulator.all(entity, f"archived=true&sort={sort}&limit=37")
    ids = [r[pk] for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) == reference
    field = sort.lstrip("-")
    if entity == "SalePayment" and field == "timeStamp":
        field = (
            "createTime"  # the payment's sortable timeStamp is not written; it equals createTime
        )
    keys = [
        ((0,) if (v := _value(field, r.get(field))) in (None, 0) else (1, v), int(r[pk]))
        for r in rows
    ]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    count = emulator.ok(entity, "count=1&archived=true")["@attributes"]["count"]
    assert int(count) == len(ids)


def test_next_repeats_every_param_and_adds_sort_and_limit(emulator: Emulator) -> None:
    query = emulator.encoded([("timeStamp", ">=,2024-06-12T00:00:00+00:00"), ("shopID", "1"),
                              ("load_relations", '["SaleLines"]')])  # fmt: skip
    first = emulator.ok("Sale", query)
    assert first["@attributes"]["previous"] == ""
    next_url = first["@attributes"]["next"]
    assert next_url.startswith(f"{BASE}/Sale.json?")
    assert "timeStamp=%3E%3D%2C2024-06-12T00%3A00%3A00%2B00%3A00" in next_url
    params = parse_qsl(urlsplit(next_url).query)
    assert [name for name, _ in params] == [
        "timeStamp",
        "shopID",
        "load_relations",
        "sort",
        "limit",
        "after",
    ]
    assert dict(params)["sort"] == "saleID" and dict(params)["limit"] == "100"
    last = emulator.records(first, "Sale")[-1]
    assert json.loads(base64.b64decode(dict(params)["after"])) == [int(last["saleID"])]


def test_cursor_of_a_time_sort_holds_value_and_pk(emulator: Emulator) -> None:
    page = emulator.ok("Sale", "sort=-timeStamp&limit=5")
    after = dict(parse_qsl(urlsplit(page["@attributes"]["next"]).query))["after"]
    last = page["Sale"][-1]
    assert json.loads(base64.b64decode(after)) == [last["timeStamp"], int(last["saleID"])]


def test_previous_walks_back_to_the_same_pages(emulator: Emulator) -> None:
    pages = []
    for page in emulator.pages("SaleLine", "sort=timeStamp&limit=25"):
        pages.append(page)
        if len(pages) == 4:
            break
    back = emulator.ok("SaleLine", urlsplit(pages[3]["@attributes"]["previous"]).query)
    assert back["SaleLine"] == pages[2]["SaleLine"]
    first = emulator.ok("SaleLine", urlsplit(pages[1]["@attributes"]["previous"]).query)
    assert first["SaleLine"] == pages[0]["SaleLine"]
    assert first["@attributes"]["previous"] == ""  # nothing before the first page
    assert first["@attributes"]["next"]


def test_last_page_has_an_empty_next(emulator: Emulator) -> None:
    pages = list(emulator.pages("Shop"))
    assert len(pages) == 1 and pages[0]["@attributes"] == {"next": "", "previous": ""}
