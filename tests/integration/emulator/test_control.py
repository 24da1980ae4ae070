"""Control endpoints (off unless --control) and the always-on stats endpoint."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
import requests

CONTROL_POSTS = [
    ("/_emulator/faults", {"add": "5xx"}),
    ("/_emulator/clock", {"advance": 60}),
    ("/_emulator/tokens/revoke", {}),
    ("/_emulator/tokens/expire", {}),
    ("/_emulator/mutate", {"entity": "Sale", "id": 1, "delete": True}),
    ("/_emulator/stats/reset", {}),
]


@pytest.mark.parametrize(("path", "body"), CONTROL_POSTS)
def test_control_endpoints_are_off_by_default(emulator, path: str, body: dict) -> None:
    response = requests.post(f"{emulator.url}{path}", json=body, timeout=10)
    assert response.status_code == 404
    assert "--control" in response.json()["error"]
    assert emulator.resources.mutations == []
    assert requests.get(f"{emulator.url}/_emulator/faults", timeout=10).status_code == 404


def test_faults_can_be_added_listed_and_cleared(control_emulator, flow) -> None:
    emulator = control_emulator
    token = flow.tokens(emulator.url)["access_token"]
    faults_url = f"{emulator.url}/_emulator/faults"
    added = requests.post(faults_url, json={"add": ["5xx:count=1:status=502"]}, timeout=10).json()
    assert added["faults"][0]["spec"] == "5xx:count=1:status=502"
    assert flow.api_get(f"{emulator.account_url}/Sale.json", token).status_code == 502

    requests.post(faults_url, json={"add": "429:count=5"}, timeout=10)
    requests.post(faults_url, json={"clear": True}, timeout=10)
    assert requests.get(faults_url, timeout=10).json()["faults"] == []
    assert flow.api_get(f"{emulator.account_url}/Sale.json", token).status_code == 200
    bad = requests.post(faults_url, json={"add": "nope"}, timeout=10)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]


def test_clock_can_be_set_and_advanced(control_emulator, flow) -> None:
    url = f"{control_emulator.url}/_emulator/clock"
    requests.post(url, json={"set": "2026-01-10T08:00:00+00:00"}, timeout=10)
    response = requests.post(url, json={"advance": 90}, timeout=10)
    assert response.json()["now"] == "2026-01-10T08:01:30+00:00"
    assert (
        parsedate_to_datetime(response.headers["Date"]).isoformat() == "2026-01-10T08:01:30+00:00"
    )
    assert requests.post(url, json={"set": "yesterday"}, timeout=10).status_code == 400


def test_revoke_all_refresh_tokens_forces_reauthorization(control_emulator, flow) -> None:
    emulator = control_emulator
    pair = flow.tokens(emulator.url)
    revoked = requests.post(f"{emulator.url}/_emulator/tokens/revoke", json={}, timeout=10).json()
    assert revoked["revoked"] == 1
    refused = flow.refresh(emulator.url, pair["refresh_token"])
    assert refused.status_code == 400 and refused.json()["hint"] == "Token has been revoked"
    # Access tokens live on until they expire, as after a real revocation.
    assert (
        flow.api_get(f"{emulator.account_url}/Sale.json", pair["access_token"]).status_code == 200
    )


def test_expire_access_tokens_now(control_emulator, flow) -> None:
    emulator = control_emulator
    pair = flow.tokens(emulator.url)
    expired = requests.post(f"{emulator.url}/_emulator/tokens/expire", json={}, timeout=10).json()
    assert expired["expired"] == 1
    assert (
        flow.api_get(f"{emulator.account_url}/Sale.json", pair["access_token"]).status_code == 401
    )


def test_mutate_reaches_the_data_side(control_emulator) -> None:
    emulator = control_emulator
    url = f"{emulator.url}/_emulator/mutate"
    edit = requests.post(
        url, json={"entity": "Sale", "id": 3, "fields": {"voided": "true"}}, timeout=10
    )
    delete = requests.post(
        url, json={"entity": "EmployeeHours", "id": 4, "delete": True}, timeout=10
    )
    assert edit.status_code == 200 and delete.status_code == 200
    assert emulator.resources.mutations == [
        ("Sale", 3, {"voided": "true"}),
        ("EmployeeHours", 4, None),
    ]
    assert requests.post(url, json={"entity": "Sale"}, timeout=10).status_code == 400
    assert (
        requests.post(url, json={"entity": "Nope", "id": 1, "delete": True}, timeout=10).status_code
        == 404
    )


def test_stats_count_requests_per_entity_status_and_refreshes(emulator, flow) -> None:
    pair = flow.tokens(emulator.url, scope="employee:register")
    for _ in range(3):
        flow.api_get(f"{emulator.account_url}/Sale.json", pair["access_token"])
    flow.api_get(f"{emulator.account_url}/Employee.json", pair["access_token"])
    flow.api_get(f"{emulator.account_url}/Sale.json", None)
    flow.refresh(emulator.url, pair["refresh_token"])

    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=10).json()
    assert stats["requests"]["Sale"] == {"200": 3, "401": 1}
    assert stats["requests"]["Employee"] == {"403": 1}
    assert stats["requests"]["oauth/token"] == {"200": 2}
    assert stats["api_requests"] == 5
    assert stats["refreshes"] == 1 and stats["code_exchanges"] == 1
    assert stats["buckets"]["120645:demo-client"]["level"] == 3.0
    assert pair["access_token"] not in str(stats) and pair["refresh_token"] not in str(stats)


def test_stats_reset(control_emulator, flow) -> None:
    emulator = control_emulator
    token = flow.tokens(emulator.url)["access_token"]
    flow.api_get(f"{emulator.account_url}/Sale.json", token)
    requests.post(f"{emulator.url}/_emulator/stats/reset", json={"buckets": True}, timeout=10)
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=10).json()
    assert stats["api_requests"] == 0 and stats["buckets"] == {}
    assert stats["requests"] == {"control/stats/reset": {"200": 1}}
