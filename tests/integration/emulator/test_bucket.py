"""The leaky bucket: the overflow rule, draining, and 429 with Retry-After over HTTP."""

from __future__ import annotations

import pytest

from lightspeed_emulator.bucket import LeakyBucket, format_number

RATE_LIMITED = {
    "httpCode": "429",
    "httpMessage": "Too Many Requests",
    "message": "Rate Limit Exceeded",
    "errorClass": "RateLimitException",
}


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_overflow_rule_lets_exactly_one_request_past_the_size() -> None:
    clock = FakeMonotonic()
    bucket = LeakyBucket(size=2.5, drip_rate=1.0, monotonic=clock)
    levels = [bucket.consume(1.0) for _ in range(4)]
    assert [d.allowed for d in levels] == [True, True, True, False]
    assert levels[2].level == pytest.approx(3.0)  # past the size, yet allowed
    assert levels[3].level == pytest.approx(3.0)  # a refusal charges nothing
    assert levels[3].retry_after == 1

    clock.now = 0.5  # level 2.5: not below the size yet
    assert not bucket.consume(1.0).allowed
    clock.now = 0.6
    assert bucket.consume(1.0).allowed


def test_bucket_drains_at_the_drip_rate_and_never_below_zero() -> None:
    clock = FakeMonotonic()
    bucket = LeakyBucket(size=90, drip_rate=1.5, monotonic=clock)
    bucket.consume(10)
    clock.now = 4
    assert bucket.level() == pytest.approx(4.0)
    clock.now = 100
    assert bucket.level() == 0.0


def test_retry_after_is_whole_seconds_until_below_the_size() -> None:
    clock = FakeMonotonic()
    bucket = LeakyBucket(size=1, drip_rate=0.5, monotonic=clock)
    bucket.consume(3.2)  # level 3.2, 2.2 over: below the size after 4.4 s
    refused = bucket.consume(1)
    assert refused.retry_after == 5
    clock.now = refused.retry_after
    assert bucket.consume(1).allowed


def test_header_numbers_are_written_like_lightspeed() -> None:
    assert format_number(1.0) == "1"
    assert format_number(1.8) == "1.8"
    assert format_number(77.340669870376) == "77.34067"
    assert format_number(0) == "0"


def test_small_bucket_drains_then_429_with_retry_after_and_type(make_emulator, flow) -> None:
    emulator = make_emulator(bucket_size=2.5, drip_rate=0.5)
    token = flow.tokens(emulator.url)["access_token"]
    sale_url = f"{emulator.account_url}/Sale.json"
    answers = [flow.api_get(sale_url, token) for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[2].headers["X-LS-API-Bucket-Level"] == "3/2.5"  # the allowed overflow
    limited = answers[3]
    assert limited.json() == RATE_LIMITED
    assert limited.headers["Retry-After"] == "2"  # 0.5 over at 0.5/s: below the size after 2 s
    assert limited.headers["X-LS-API-RateLimit-Type"] == "api-leaky-bucket"
    assert limited.headers["X-LS-API-Bucket-Level"] == "3/2.5"

    emulator.monotonic.advance(2)
    again = flow.api_get(sale_url, token)
    assert again.status_code == 200
    assert again.headers["X-LS-API-Bucket-Level"] == "3/2.5"
    stats = flow.api_get(f"{emulator.url}/_emulator/stats", None).json()
    assert stats["rate_limited"] == 1
    assert stats["buckets"]["120645:demo-client"]["size"] == 2.5


def test_count_queries_cost_what_the_data_side_says(make_emulator, flow) -> None:
    emulator = make_emulator(bucket_size=15)
    token = flow.tokens(emulator.url)["access_token"]
    response = flow.api_get(f"{emulator.account_url}/Sale.json", token, params={"count": "1"})
    assert response.headers["X-LS-API-Request-Cost"] == "10"
    assert response.headers["X-LS-API-Bucket-Level"] == "10/15"
