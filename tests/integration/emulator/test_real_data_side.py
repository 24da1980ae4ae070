"""The HTTP side over the real ResourceAPI: costs, cursors, scopes and mutations end to end."""

from __future__ import annotations

import requests

from lightspeed_emulator.bucket import format_number

SCOPES = "employee:register employee:admin_employees employee:inventory_read"


def _one_or_many(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_pages_cost_what_the_data_side_charges_and_next_urls_point_here(
    make_emulator, flow
) -> None:
    emulator = make_emulator(real=True, shops=2, days=1, sales_per_day=40)
    token = flow.tokens(emulator.url, SCOPES)["access_token"]
    query = [("load_relations", '["SaleLines","SalePayments"]'), ("limit", "5")]
    first = flow.api_get(f"{emulator.account_url}/Sale.json", token, params=query)

    assert first.status_code == 200, first.text
    cost = emulator.server.resources.request_cost("Sale", None, query)
    assert cost > 1
    assert first.headers["X-LS-API-Request-Cost"] == format_number(cost)
    assert first.headers["X-LS-API-Bucket-Level"] == f"{format_number(cost)}/90"
    next_url = first.json()["@attributes"]["next"]
    assert next_url.startswith(f"{emulator.account_url}/Sale.json?")

    second = flow.api_get(next_url, token)
    assert second.status_code == 200
    first_ids = {sale["saleID"] for sale in _one_or_many(first.json()["Sale"])}
    second_ids = {sale["saleID"] for sale in _one_or_many(second.json()["Sale"])}
    assert len(first_ids) == 5 and first_ids.isdisjoint(second_ids)


def test_real_scopes_guard_employees_and_shops_feed_the_session(make_emulator, flow) -> None:
    emulator = make_emulator(real=True, shops=2)
    register_only = flow.tokens(emulator.url, "employee:register")["access_token"]
    assert (
        flow.api_get(f"{emulator.account_url}/EmployeeHours.json", register_only).status_code == 403
    )
    assert flow.api_get(f"{emulator.account_url}/Shop.json", register_only).status_code == 200
    session = flow.api_get(f"{emulator.url}/API/Session.json", register_only).json()
    assert session["shopCount"] == "2"
    unknown = flow.api_get(f"{emulator.account_url}/Nonsense.json", register_only)
    assert unknown.status_code == 404


def test_mutate_is_visible_through_the_api(make_emulator, flow) -> None:
    emulator = make_emulator(real=True, control=True)
    token = flow.tokens(emulator.url, SCOPES)["access_token"]
    sale = _one_or_many(
        flow.api_get(f"{emulator.account_url}/Sale.json", token, params={"limit": "1"}).json()[
            "Sale"
        ]
    )[0]
    edit = requests.post(
        f"{emulator.url}/_emulator/mutate",
        json={"entity": "Sale", "id": int(sale["saleID"]), "fields": {"referenceNumber": "R-42"}},
        timeout=10,
    )
    assert edit.status_code == 200, edit.text
    after = flow.api_get(f"{emulator.account_url}/Sale/{sale['saleID']}.json", token).json()
    assert after["Sale"]["referenceNumber"] == "R-42"
    bad = requests.post(
        f"{emulator.url}/_emulator/mutate",
        json={"entity": "Sale", "id": int(sale["saleID"]), "fields": {"noSuchField": "1"}},
        timeout=10,
    )
    assert bad.status_code == 400 and "noSuchField" in bad.json()["error"]
