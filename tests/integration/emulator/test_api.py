"""The resource API over real HTTP: auth, scopes, headers, the data clock, routing."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

import requests

ACCESS_DENIED = {
    "error": "access_denied",
    "error_description": "The resource owner or authorization server denied the request.",
    "hint": "Access token could not be verified",
}


def test_missing_garbage_and_expired_tokens_get_the_access_denied_body(emulator, flow) -> None:
    sale_url = f"{emulator.account_url}/Sale.json"
    pair = flow.tokens(emulator.url)
    emulator.server.oauth.expire_access_tokens(pair["access_token"])
    for token in (None, "not-a-jwt", pair["access_token"]):
        response = flow.api_get(sale_url, token)
        assert response.status_code == 401
        assert response.json() == ACCESS_DENIED
        assert response.headers["Content-Type"] == "application/json"


def test_token_without_admin_employees_gets_403_on_employee_endpoints(emulator, flow) -> None:
    token = flow.tokens(emulator.url, scope="employee:register")["access_token"]
    for entity in ("Employee", "EmployeeHours"):
        response = flow.api_get(f"{emulator.account_url}/{entity}.json", token)
        assert response.status_code == 403
        body = response.json()
        assert body["httpCode"] == "403" and "employee:admin_employees" in body["message"]
    assert flow.api_get(f"{emulator.account_url}/Sale.json", token).status_code == 200
    admin = flow.tokens(emulator.url, scope="employee:admin_employees")["access_token"]
    assert flow.api_get(f"{emulator.account_url}/Employee.json", admin).status_code == 200
    everything = flow.tokens(emulator.url, scope="employee:all")["access_token"]
    assert flow.api_get(f"{emulator.account_url}/EmployeeHours.json", everything).status_code == 200


def test_rate_limit_and_account_headers(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    first = flow.api_get(f"{emulator.account_url}/Sale.json", token)
    second = flow.api_get(
        f"{emulator.account_url}/Sale.json", token, params={"load_relations": '["SaleLines"]'}
    )
    assert first.headers["X-LS-API-Bucket-Level"] == "1/90"
    assert first.headers["X-LS-API-Drip-Rate"] == "1"
    assert first.headers["X-LS-API-Request-Cost"] == "1"
    assert first.headers["X-LS-Acct-Id"] == "120645"
    assert first.headers["Content-Type"] == "application/json"
    # The bucket's clock is frozen in these tests, so the level is exactly the sum of costs.
    assert second.headers["X-LS-API-Request-Cost"] == "1.5"
    assert second.headers["X-LS-API-Bucket-Level"] == "2.5/90"
    assert "Retry-After" not in second.headers


def test_bucket_and_drip_follow_the_register_count(make_emulator, flow) -> None:
    emulator = make_emulator(registers=3)
    token = flow.tokens(emulator.url)["access_token"]
    response = flow.api_get(f"{emulator.account_url}/Sale.json", token)
    assert response.headers["X-LS-API-Bucket-Level"] == "1/110"
    assert response.headers["X-LS-API-Drip-Rate"] == "2"


def test_date_header_is_the_data_clock(make_emulator, flow) -> None:
    emulator = make_emulator()  # pinned at flow.PINNED_NOW, frozen
    token = flow.tokens(emulator.url)["access_token"]
    response = flow.api_get(f"{emulator.url}/API/V3/Account.json", token)
    assert parsedate_to_datetime(response.headers["Date"]) == flow.PINNED_NOW
    emulator.server.clock.advance(3600)
    later = requests.get(f"{emulator.url}/_emulator/stats", timeout=10)
    assert parsedate_to_datetime(later.headers["Date"]) == flow.PINNED_NOW + timedelta(hours=1)


def test_account_and_session_endpoints(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    account = flow.api_get(f"{emulator.url}/API/V3/Account.json", token)
    assert account.status_code == 200
    assert account.json()["Account"]["accountID"] == "120645"
    for path in ("/API/Session.json", "/API/V3/Session.json"):
        session = flow.api_get(f"{emulator.url}{path}", token)
        assert session.status_code == 200
        assert session.json()["systemCustomerID"] == "120645"
        assert session.json()["employeeID"] == "1"
        assert session.json()["shopCount"] == "2"


def test_wrong_account_id_is_404_in_the_api_error_shape(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    response = flow.api_get(f"{emulator.url}/API/V3/Account/999/Sale.json", token)
    assert response.status_code == 404
    assert set(response.json()) == {"httpCode", "httpMessage", "message", "errorClass"}
    assert response.json()["httpCode"] == "404"


def test_paths_with_and_without_json_suffix_reach_the_data_side(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    assert flow.api_get(f"{emulator.account_url}/Sale", token).status_code == 200
    assert flow.api_get(f"{emulator.account_url}/Sale/7.json", token).status_code == 200
    assert flow.api_get(f"{emulator.account_url}/Sale/7", token).status_code == 200
    calls = emulator.resources.calls
    assert [(entity, record_id) for entity, record_id, _, _ in calls] == [
        ("Sale", None),
        ("Sale", "7"),
        ("Sale", "7"),
    ]
    assert {base for _, _, _, base in calls} == {f"{emulator.account_url}/Sale.json"}


def test_query_reaches_the_data_side_decoded_once_with_raw_plus_as_space(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    raw = "timeStamp=%3E%3D%2C2026-03-01T00%3A00%3A00%2B00%3A00&completeTime=>,2026-03-01T00:00:00+00:00&archived="
    flow.api_get(f"{emulator.account_url}/Sale.json?{raw}", token)
    (_, _, query, _) = emulator.resources.calls[-1]
    assert query == [
        ("timeStamp", ">=,2026-03-01T00:00:00+00:00"),
        ("completeTime", ">,2026-03-01T00:00:00 00:00"),
        ("archived", ""),
    ]


def test_unknown_entity_and_path_are_404(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    assert flow.api_get(f"{emulator.account_url}/Nonsense.json", token).status_code == 404
    deep = flow.api_get(f"{emulator.account_url}/Sale/1/SaleLine/2/x.json", token)
    assert deep.status_code == 404 and deep.json()["httpCode"] == "404"


def test_writes_are_refused_with_405(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    response = requests.post(
        f"{emulator.account_url}/Sale.json",
        json={"completed": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.json()["httpCode"] == "405"


def test_a_data_side_failure_is_a_500_in_the_api_error_shape(emulator, flow) -> None:
    token = flow.tokens(emulator.url)["access_token"]
    emulator.resources.fail_with = RuntimeError("boom")
    response = flow.api_get(f"{emulator.account_url}/Sale.json", token)
    assert response.status_code == 500
    assert response.json()["httpCode"] == "500"
    assert "boom" not in response.text
