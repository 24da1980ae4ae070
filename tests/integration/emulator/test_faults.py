"""Every injected fault, as a client observes it over real HTTP; the spec parser."""

from __future__ import annotations

import json
import time

import pytest
import requests

from lightspeed_emulator.faults import FaultInjector, FaultSpecError, parse_fault


def _armed(make_emulator, flow, *specs: str):
    emulator = make_emulator(faults=list(specs))
    token = flow.tokens(emulator.url)["access_token"]
    return emulator, token, f"{emulator.account_url}/Sale.json"


def test_5xx_for_the_next_n_requests(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "5xx:count=2:status=503")
    statuses = [flow.api_get(url, token).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_5xx_at_a_rate_is_reproducible_with_a_seed(make_emulator, flow) -> None:
    runs = []
    for _ in range(2):
        emulator, token, url = _armed(make_emulator, flow, "5xx:rate=0.5:seed=7:status=any")
        runs.append([flow.api_get(url, token).status_code for _ in range(12)])
    assert runs[0] == runs[1]
    assert {200} < set(runs[0]) <= {200, 500, 502, 503}


def test_429_burst_with_retry_after(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "429:count=2:retry_after=3")
    first, second, third = (flow.api_get(url, token) for _ in range(3))
    for limited in (first, second):
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
        assert limited.headers["X-LS-API-RateLimit-Type"] == "api-leaky-bucket"
        assert limited.json()["message"] == "Rate Limit Exceeded"
    assert third.status_code == 200


def test_slow_response_trips_a_client_timeout(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "slow:count=1:seconds=0.6")
    with pytest.raises(requests.exceptions.ReadTimeout):
        flow.api_get(url, token, timeout=0.2)
    started = time.monotonic()
    assert flow.api_get(url, token).status_code == 200
    assert time.monotonic() - started < 0.5  # the fault is spent


def test_dropped_connection_breaks_the_chunked_body(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "drop:count=1")
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        flow.api_get(url, token)
    assert flow.api_get(url, token).status_code == 200


def test_truncated_length_breaks_the_body(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "truncate:mode=length")
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        flow.api_get(url, token)


def test_truncated_json_fails_to_parse(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "truncate:count=1:fraction=0.3")
    response = flow.api_get(url, token)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert flow.api_get(url, token).json()["Sale"]


def test_please_try_again_later(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "try-later:count=1")
    response = flow.api_get(url, token)
    assert response.status_code == 400
    assert response.json()["message"] == "Please try again later."


def test_expire_token_mid_run_really_expires_it(make_emulator, flow) -> None:
    emulator = make_emulator(faults=["expire-token:after=3"])
    pair = flow.tokens(emulator.url)
    url = f"{emulator.account_url}/Sale.json"
    statuses = [flow.api_get(url, pair["access_token"]).status_code for _ in range(4)]
    assert statuses == [200, 200, 401, 401]
    fresh = flow.refresh(emulator.url, pair["refresh_token"]).json()
    assert flow.api_get(url, fresh["access_token"]).status_code == 200


def test_entity_filter_leaves_other_endpoints_alone(make_emulator, flow) -> None:
    emulator, token, url = _armed(make_emulator, flow, "5xx:count=1:entity=Shop")
    assert flow.api_get(url, token).status_code == 200
    assert flow.api_get(f"{emulator.account_url}/Shop.json", token).status_code == 500


def test_faults_spare_oauth_endpoints(make_emulator, flow) -> None:
    emulator = make_emulator(faults=["5xx:rate=1"])
    pair = flow.tokens(emulator.url)  # the whole authorize flow still works
    assert flow.refresh(emulator.url, pair["refresh_token"]).status_code == 200


def test_spec_parser_errors_say_what_is_accepted() -> None:
    with pytest.raises(FaultSpecError, match="unknown fault kind 'explode'"):
        parse_fault("explode", "0", 0)
    with pytest.raises(FaultSpecError, match="options are key=value"):
        parse_fault("5xx:often", "0", 0)
    with pytest.raises(FaultSpecError, match="use 500, 502, 503 or any"):
        parse_fault("5xx:status=418", "0", 0)
    with pytest.raises(FaultSpecError, match="between 0.0 and 1.0"):
        parse_fault("5xx:rate=2", "0", 0)


def test_bare_seed_spec_makes_random_faults_reproducible() -> None:
    def draws(seed: str) -> list[bool]:
        injector = FaultInjector([f"seed={seed}", "5xx:rate=0.5"])
        return [injector.plan("Sale").respond is not None for _ in range(40)]

    assert draws("1") == draws("1")
    assert draws("1") != draws("2")


def test_bad_fault_spec_refuses_to_build_the_server(make_emulator) -> None:
    with pytest.raises(FaultSpecError):
        make_emulator(faults=["slow:seconds=-1"])
