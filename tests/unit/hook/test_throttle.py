from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from lightspeed.errors import LightspeedAPIError, ReauthorizeRequired, TransientAPIError
from lightspeed.throttle import Action, LeakyBucketPacer, RetryPolicy, Throttle


def response(
    status: int = 200,
    body: object = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = (
        raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    )
    resp.headers = CaseInsensitiveDict(headers or {})
    resp.url = "https://api.test/API/V3/Account/1/Sale.json?limit=100"
    resp.reason = "Reason"
    return resp


def sequence(*outcomes: object) -> Callable[[], requests.Response]:
    items: Iterator[object] = iter(outcomes)

    def send() -> requests.Response:
        item = next(items)
        if isinstance(item, Exception):
            raise item
        return item  # type: ignore[return-value]

    return send


def no_jitter(**kw: float) -> RetryPolicy:
    return RetryPolicy(jitter=0.0, **kw)


# -- pacing math -------------------------------------------------------------------------


def test_no_wait_before_any_reading(fake_time) -> None:
    assert LeakyBucketPacer(clock=fake_time.clock).delay() == 0.0


def test_wait_is_overflow_over_drip(fake_time) -> None:
    pacer = LeakyBucketPacer(clock=fake_time.clock, headroom=0.0)
    pacer.update(
        {
            "X-LS-API-Bucket-Level": "89.5/90",
            "X-LS-API-Drip-Rate": "2",
            "X-LS-API-Request-Cost": "1.8",
        }
    )
    assert pacer.delay() == pytest.approx((89.5 + 1.8 - 90) / 2)
    assert pacer.delay(cost=0.4) == 0.0


def test_level_decays_with_elapsed_time(fake_time) -> None:
    pacer = LeakyBucketPacer(clock=fake_time.clock, headroom=0.0)
    pacer.update({"x-ls-api-bucket-level": "92/90", "x-ls-api-drip-rate": "1"})  # any case
    assert pacer.delay(cost=1) == pytest.approx(3.0)
    fake_time.now += 2.0
    assert pacer.estimated_level() == pytest.approx(90.0)
    assert pacer.delay(cost=1) == pytest.approx(1.0)
    fake_time.now += 100
    assert pacer.estimated_level() == 0.0


def test_headroom_keeps_a_margin(fake_time) -> None:
    pacer = LeakyBucketPacer(clock=fake_time.clock, headroom=1.0)
    pacer.update({"X-LS-Api-Bucket-Level": "88.5/90", "X-LS-Api-Drip-Rate": "1"})
    assert pacer.delay(cost=1) == pytest.approx(0.5)


@pytest.mark.parametrize("level", ["", "garbage", "5/0", "x/90"])
def test_garbled_headers_are_ignored(fake_time, level: str) -> None:
    pacer = LeakyBucketPacer(clock=fake_time.clock)
    pacer.update({"X-LS-API-Bucket-Level": level})
    assert pacer.reading is None and pacer.delay() == 0.0


def test_burst_window_full_waits_for_the_next_second(fake_time) -> None:
    pacer = LeakyBucketPacer(clock=fake_time.clock)
    pacer.update({"X-LS-API-Bucket-Level": "5/90", "X-LS-API-Burst-Level": "20/20"})
    fake_time.now += 0.25
    assert pacer.delay() == pytest.approx(0.75)


class SimulatedBucket:
    """The server side of §7: fractional level, drip per second, one overflow allowed."""

    def __init__(self, clock: Callable[[], float], size: float, drip: float, cost: float) -> None:
        self.clock, self.size, self.drip, self.cost = clock, size, drip, cost
        self.level, self.at, self.rejected = 0.0, clock(), 0

    def send(self) -> requests.Response:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self.at) * self.drip)
        self.at = now
        headers = {"X-LS-API-Drip-Rate": str(self.drip), "X-LS-API-Request-Cost": str(self.cost)}
        if self.level >= self.size:
            self.rejected += 1
            wait = math.ceil((self.level - self.size + self.cost) / self.drip)
            headers |= {
                "Retry-After": str(wait),
                "X-LS-API-Bucket-Level": f"{self.level}/{self.size}",
            }
            return response(429, {"message": "Rate Limit Exceeded"}, headers=headers)
        self.level += self.cost
        headers["X-LS-API-Bucket-Level"] = f"{self.level}/{self.size}"
        return response(200, {"ok": True}, headers=headers)


def test_long_run_meets_no_429_and_runs_at_the_drip_rate(fake_time) -> None:
    bucket = SimulatedBucket(fake_time.clock, size=10, drip=2.0, cost=1.8)
    throttle = Throttle(
        LeakyBucketPacer(clock=fake_time.clock, sleep=fake_time.sleep),
        no_jitter(),
        sleep=fake_time.sleep,
    )
    start = fake_time.now
    for _ in range(300):
        throttle.execute(bucket.send)
    assert bucket.rejected == 0 and throttle.stats.throttled == 0
    elapsed = fake_time.now - start
    # Near the drip rate: the first bucketful is free, the rest drains at `drip`.
    assert elapsed == pytest.approx((300 * 1.8 - 10) / 2.0, rel=0.05)
    assert throttle.stats.total_cost == pytest.approx(540)


# -- retry policy ------------------------------------------------------------------------


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_backoff_jitter_stays_within_the_cap() -> None:
    high = RetryPolicy(base_delay=1, max_delay=8, jitter=0.5, rng=lambda: 0.999)
    low = RetryPolicy(base_delay=1, max_delay=8, jitter=0.5, rng=lambda: 0.0)
    assert 4 <= low.backoff(10) < high.backoff(10) <= 8


def test_429_honours_retry_after(fake_time) -> None:
    throttle = Throttle(
        LeakyBucketPacer(clock=fake_time.clock, sleep=fake_time.sleep),
        no_jitter(),
        sleep=fake_time.sleep,
    )
    send = sequence(
        response(429, {"message": "Rate Limit Exceeded"}, headers={"Retry-After": "7"}),
        response(200, {"Sale": []}),
    )
    _, payload = throttle.execute(send)
    assert payload == {"Sale": []}
    assert fake_time.slept == [pytest.approx(7.05)]
    assert throttle.stats.throttled == 1 and throttle.stats.retries == 1


@pytest.mark.parametrize(
    "outcome",
    [
        response(500),
        response(502),
        response(503),
        response(400, {"httpCode": "400", "message": "Please try again later."}),
        response(200, raw=b'{"Sale": [{"saleID": "1"'),  # truncated JSON
        requests.exceptions.Timeout("read timed out"),
        requests.exceptions.ConnectionError("connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead"),
    ],
)
def test_transient_outcomes_are_retried(fake_time, outcome: object) -> None:
    throttle = Throttle(policy=no_jitter(base_delay=2), sleep=fake_time.sleep)
    _, payload = throttle.execute(sequence(outcome, response(200, {"ok": 1})))
    assert payload == {"ok": 1} and fake_time.slept == [2]


def test_transient_errors_exhaust_into_transient_api_error(fake_time) -> None:
    throttle = Throttle(policy=no_jitter(max_attempts=3, base_delay=1), sleep=fake_time.sleep)
    with pytest.raises(TransientAPIError, match="retry the task later"):
        throttle.execute(sequence(response(503), response(503), response(503)))
    assert fake_time.slept == [1, 2]


def test_401_refreshes_once_then_retries(fake_time) -> None:
    refreshed: list[int] = []
    throttle = Throttle(policy=no_jitter(), sleep=fake_time.sleep)
    _, payload = throttle.execute(
        sequence(response(401, {"error": "access_denied"}), response(200, {"ok": 1})),
        on_unauthorized=lambda: refreshed.append(1),
    )
    assert payload == {"ok": 1} and refreshed == [1] and fake_time.slept == []


def test_401_after_a_refresh_means_reauthorize(fake_time) -> None:
    throttle = Throttle(policy=no_jitter(), sleep=fake_time.sleep)
    with pytest.raises(ReauthorizeRequired, match="lightspeed authorize"):
        throttle.execute(sequence(response(401), response(401)), on_unauthorized=lambda: None)


def test_403_fails_with_scope_advice(fake_time) -> None:
    throttle = Throttle(policy=no_jitter(), sleep=fake_time.sleep)
    body = {
        "httpCode": "403",
        "httpMessage": "Forbidden",
        "message": "Token scopes do not cover Employee",
        "errorClass": "ForbiddenException",
    }
    with pytest.raises(LightspeedAPIError) as info:
        throttle.execute(sequence(response(403, body)), context="GET /x/Employee.json")
    assert info.value.status == 403
    text = str(info.value)
    assert "Token scopes do not cover Employee" in text and "lightspeed authorize" in text
    assert fake_time.slept == []


@pytest.mark.parametrize("status", [400, 404, 405, 422])
def test_other_4xx_are_fatal_with_the_api_message(fake_time, status: int) -> None:
    throttle = Throttle(policy=no_jitter(), sleep=fake_time.sleep)
    body = {"httpCode": str(status), "message": "Sort field foo not allowed: saleID, timeStamp"}
    with pytest.raises(LightspeedAPIError, match="Sort field foo not allowed"):
        throttle.execute(sequence(response(status, body)))


def test_unknown_exceptions_are_not_swallowed(fake_time) -> None:
    throttle = Throttle(policy=no_jitter(), sleep=fake_time.sleep)
    with pytest.raises(KeyError):
        throttle.execute(sequence(KeyError("bug")))


def test_classification_table() -> None:
    policy = no_jitter()
    assert policy.judge_response(response(200), {"a": 1}).action is Action.SUCCESS
    assert policy.judge_response(response(200), None).action is Action.RETRY
    assert policy.judge_response(response(401), None).action is Action.REFRESH
    verdict = policy.judge_response(response(429, headers={"retry-after": "3"}), None)
    assert (
        verdict.action is Action.RETRY
        and verdict.throttled
        and verdict.delay == pytest.approx(3.05)
    )
    assert policy.judge_response(response(409), None).action is Action.FAIL


def test_retry_after_is_jittered_so_throttled_workers_spread_out() -> None:
    """Workers throttled together must not all retry at the same instant."""
    headers = {"Retry-After": "4"}
    early = RetryPolicy(jitter=0.3, rng=lambda: 0.0).judge_response(
        response(429, {}, headers=headers), {}
    )
    late = RetryPolicy(jitter=0.3, rng=lambda: 0.999).judge_response(
        response(429, {}, headers=headers), {}
    )
    assert early.delay == pytest.approx(4.05)
    assert 4.05 < late.delay <= 4.05 + 0.3 * 4
