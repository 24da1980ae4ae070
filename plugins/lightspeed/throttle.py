"""Leaky-bucket pacing from the API's headers, and the one place that decides retry vs fail.

Lightspeed meters each (account x OAuth client) with a leaky bucket (reference §7): every
response says how full it is (`X-LS-API-Bucket-Level: level/size`), how fast it drains
(`X-LS-API-Drip-Rate`) and what the request cost (`X-LS-API-Request-Cost`). Waiting
`max(0, level + cost - size) / drip` before each request keeps a long extraction at the drip
rate without meeting a 429; other processes on the same bucket show up in the level the
server reports, so no shared state is needed here.

Retry policy, decided only in `RetryPolicy`: 429 honours Retry-After; 5xx, `400 "Please try
again later."`, timeouts, resets, chunked-encoding errors and broken JSON bodies back off
exponentially (capped, jittered); 401 means refresh the token once; any other 4xx is fatal
with a message that says what to do. Clock and sleep are injected so tests never wait.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from lightspeed.errors import (
    LightspeedAPIError,
    LightspeedError,
    ReauthorizeRequired,
    TransientAPIError,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_TRANSIENT_EXCEPTIONS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_TRY_AGAIN_TEXT = "try again later"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also works on a plain dict."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class BucketReading:
    """What the server said about the bucket, and when (monotonic seconds) we heard it."""

    level: float
    size: float
    drip: float
    observed_at: float
    burst_count: float | None = None
    burst_limit: float | None = None


class LeakyBucketPacer:
    """Delays requests so the server's bucket never overflows.

    Args:
        clock: monotonic seconds; injectable for tests.
        sleep: how to wait; injectable for tests.
        default_cost: the cost assumed before the server has reported one.
        headroom: drips kept free below the size, absorbing other clients' traffic
            and the level's rounding.
    """

    def __init__(
        self,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        default_cost: float = 1.0,
        headroom: float = 1.0,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.reading: BucketReading | None = None
        self.last_cost = default_cost
        self.headroom = headroom

    def update(self, headers: Mapping[str, str]) -> None:
        """Record the bucket state a response reports; absent or garbled headers are ignored."""
        level_size = _header(headers, "X-LS-API-Bucket-Level")
        cost = _float(_header(headers, "X-LS-API-Request-Cost"))
        if cost is not None and cost > 0:
            self.last_cost = cost
        if not level_size or "/" not in level_size:
            return
        level, size = (_float(part) for part in level_size.split("/", 1))
        if level is None or size is None or size <= 0:
            return
        drip = _float(_header(headers, "X-LS-API-Drip-Rate"))
        previous_drip = self.reading.drip if self.reading else 1.0
        burst_count, burst_limit = _burst(_header(headers, "X-LS-API-Burst-Level"))
        self.reading = BucketReading(
            level=level,
            size=size,
            drip=drip if drip and drip > 0 else previous_drip,
            observed_at=self._clock(),
            burst_count=burst_count,
            burst_limit=burst_limit,
        )

    def estimated_level(self) -> float:
        """The level now: the last reported level minus what has dripped out since."""
        if self.reading is None:
            return 0.0
        elapsed = max(0.0, self._clock() - self.reading.observed_at)
        return max(0.0, self.reading.level - elapsed * self.reading.drip)

    def delay(self, cost: float | None = None) -> float:
        """Seconds to wait before a request of `cost` drips (the last seen cost by default)."""
        reading = self.reading
        if reading is None:
            return 0.0
        cost = self.last_cost if cost is None else cost
        overflow = self.estimated_level() + cost - (reading.size - self.headroom)
        wait = max(0.0, overflow) / reading.drip
        return max(wait, self._burst_delay(reading))

    def wait(self, cost: float | None = None) -> float:
        """Sleep as long as `delay` says; returns the seconds slept."""
        seconds = self.delay(cost)
        if seconds > 0:
            self._sleep(seconds)
        return seconds

    def _burst_delay(self, reading: BucketReading) -> float:
        # The burst limiter counts requests in fixed 1-second windows (reference §7): when
        # the current window is full, wait until it must have ended.
        if reading.burst_count is None or not reading.burst_limit:
            return 0.0
        if reading.burst_count + 1 <= reading.burst_limit:
            return 0.0
        return max(0.0, 1.0 - (self._clock() - reading.observed_at))


def _burst(value: str | None) -> tuple[float | None, float | None]:
    if not value or "/" not in value:
        return None, None
    count, limit = (_float(part) for part in value.split("/", 1))
    return count, limit


class Action(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    REFRESH = "refresh"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    """What to do with one outcome: the action, why, and a server-given delay if any."""

    action: Action
    reason: str
    delay: float | None = None
    error: LightspeedError | None = None
    throttled: bool = False
    kind: str = ""  # short label for stats: the status, "invalid-json" or the exception type


@dataclass
class RetryPolicy:
    """Retry vs fail, decided in one place.

    Args:
        max_attempts: tries of one request on transient errors (5xx, timeouts...), first included.
        max_throttled: 429s tolerated for one request; Retry-After makes them cheap to honour.
        base_delay: first backoff, seconds; doubles on each further attempt.
        max_delay: cap of one exponential backoff, seconds.
        max_retry_after: cap of a server's Retry-After, seconds (honoured up to this).
        jitter: fraction of each backoff that is random, so parallel workers spread out.
    """

    max_attempts: int = 6
    max_throttled: int = 20
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    jitter: float = 0.3
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with jitter for the `attempt`-th failure (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return ceiling * (1 - self.jitter) + ceiling * self.jitter * self.rng()

    def judge_exception(self, exc: BaseException) -> Verdict:
        """Network errors are transient; anything else is a bug and fails at once."""
        if isinstance(exc, _TRANSIENT_EXCEPTIONS):
            name = type(exc).__name__
            return Verdict(Action.RETRY, f"{name} (network)", kind=name)
        return Verdict(Action.FAIL, f"{type(exc).__name__}: unexpected error")

    def judge_response(
        self, response: requests.Response, payload: Any, context: str = ""
    ) -> Verdict:
        """Classify a response whose JSON (or None if it did not parse) is `payload`."""
        status = response.status_code
        where = context or _path_of(response)
        if 200 <= status < 300:
            if payload is None:
                return Verdict(
                    Action.RETRY,
                    f"{status} with a truncated or invalid JSON body",
                    kind="invalid-json",
                )
            return Verdict(Action.SUCCESS, str(status))
        message = api_message(payload, response)
        if status == 401:
            return Verdict(Action.REFRESH, f"401 {message}")
        if status == 429:
            return Verdict(
                Action.RETRY,
                f"429 {message}",
                delay=self._retry_after(response),
                throttled=True,
                kind="429",
            )
        if status >= 500 or (status == 400 and _TRY_AGAIN_TEXT in message.lower()):
            return Verdict(Action.RETRY, f"{status} {message}", kind=str(status))
        return Verdict(
            Action.FAIL, f"{status} {message}", error=fatal_error(status, message, where)
        )

    def _retry_after(self, response: requests.Response) -> float | None:
        value = _header(response.headers, "Retry-After")
        if not value:
            return None
        seconds = _float(value)
        if seconds is None:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = (when - datetime.now(UTC)).total_seconds()
        # A little over the advice (the server's window rounds down to whole seconds), plus
        # jitter, so that parallel workers throttled together do not all retry together.
        seconds = max(0.0, seconds)
        return min(
            self.max_retry_after, seconds + 0.05 + self.jitter * max(1.0, seconds) * self.rng()
        )


def api_message(payload: Any, response: requests.Response | None = None) -> str:
    """The API's own words for an error: `message` (§8) or the OAuth fields (§2.6)."""
    if isinstance(payload, Mapping):
        for key in ("message", "error_description", "httpMessage", "error"):
            value = payload.get(key)
            if value:
                hint = payload.get("hint")
                return f"{value} ({hint})" if hint and key == "error_description" else str(value)
    if response is not None:
        return response.reason or "error"
    return "error"


def fatal_error(status: int, message: str, where: str) -> LightspeedAPIError:
    """A fatal 4xx with what the user must do about it."""
    advice = {
        400: "The request was malformed; this is a bug in the extraction, please report it "
        "with this message.",
        403: "The authorization lacks the scope this endpoint needs: add the scope to the "
        "connection's `scopes` extra if it is missing, then run `lightspeed authorize` again "
        "as an employee who has that right.",
        404: "Check the account ID and entity name; if the account changed, run "
        "`lightspeed authorize` again.",
        409: "The record changed while it was being edited; retry the run.",
    }.get(status, "Retrying will not help; check the request and the Lightspeed status page.")
    return LightspeedAPIError(status, f"{message.rstrip('.')}. {advice}", where)


def _path_of(response: requests.Response) -> str:
    url = response.url or (response.request.url if response.request else "") or ""
    return urlsplit(url).path


@dataclass
class RequestStats:
    """Counts for benchmarks and logs: what one hook sent and met."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    refreshes: int = 0
    total_cost: float = 0.0
    paced_seconds: float = 0.0
    backoff_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    retry_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "retries": self.retries,
            "refreshes": self.refreshes,
            "total_cost": round(self.total_cost, 3),
            "paced_seconds": round(self.paced_seconds, 3),
            "backoff_seconds": round(self.backoff_seconds, 3),
            "by_status": dict(self.by_status),
            "retry_reasons": dict(self.retry_reasons),
        }


class Throttle:
    """Sends one logical request: paces it, classifies each outcome, retries or fails.

    Args:
        pacer: the leaky-bucket pacer fed by every response.
        policy: the retry policy.
        sleep: how to wait for backoffs; the pacer has its own (usually the same).
    """

    def __init__(
        self,
        pacer: LeakyBucketPacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.pacer = pacer or LeakyBucketPacer(sleep=sleep)
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.stats = RequestStats()
        self.last_response: requests.Response | None = None

    def execute(
        self,
        send: Callable[[], requests.Response],
        *,
        on_unauthorized: Callable[[], None] | None = None,
        context: str = "",
    ) -> tuple[requests.Response, Any]:
        """Send until success; return the response and its parsed JSON body.

        Raises:
            TransientAPIError: transient failures outlasted `max_attempts` (or `max_throttled`).
            ReauthorizeRequired: a 401 survived one token refresh.
            LightspeedAPIError: a fatal 4xx.
        """
        failures = throttled = 0
        refreshed = False
        for _ in range(self.policy.max_attempts + self.policy.max_throttled + 1):
            self.stats.paced_seconds += self.pacer.wait()
            verdict, response, payload = self._attempt(send, context)
            if verdict.action is Action.SUCCESS:
                return response, payload  # type: ignore[return-value]
            if verdict.action is Action.FAIL:
                raise verdict.error or LightspeedAPIError(0, verdict.reason, context)
            if verdict.action is Action.REFRESH:
                if refreshed or on_unauthorized is None:
                    raise ReauthorizeRequired(
                        f"Lightspeed rejected the access token even after a refresh ({context})."
                    )
                refreshed = True
                self.stats.refreshes += 1
                log.info("Access token rejected (%s); refreshing once", verdict.reason)
                on_unauthorized()
                continue
            if verdict.throttled:
                throttled += 1
                budget_left = throttled < self.policy.max_throttled
            else:
                failures += 1
                budget_left = failures < self.policy.max_attempts
            if not budget_left:
                raise TransientAPIError(
                    f"Lightspeed kept failing on {context or 'a request'} "
                    f"({failures} errors, {throttled} throttled; last: {verdict.reason}). "
                    "This is usually temporary: retry the task later; if it persists, check "
                    "the Lightspeed status page or lower the load (pool slots)."
                )
            delay = verdict.delay if verdict.delay is not None else self.policy.backoff(failures)
            self.stats.retries += 1
            reasons = self.stats.retry_reasons
            reasons[verdict.kind] = reasons.get(verdict.kind, 0) + 1
            self.stats.backoff_seconds += delay
            log.warning(
                "Retrying %s in %.2fs after %s", context or "request", delay, verdict.reason
            )
            self.sleep(delay)
        raise TransientAPIError(f"Lightspeed kept failing on {context or 'a request'}.")

    def _attempt(
        self, send: Callable[[], requests.Response], context: str
    ) -> tuple[Verdict, requests.Response | None, Any]:
        try:
            response = send()
        except _TRANSIENT_EXCEPTIONS as exc:
            self.stats.requests += 1
            return self.policy.judge_exception(exc), None, None
        self._record(response)
        try:
            payload = response.json()
        except ValueError:  # requests' JSONDecodeError: a cut or non-JSON body
            payload = None
        return self.policy.judge_response(response, payload, context), response, payload

    def _record(self, response: requests.Response) -> None:
        self.last_response = response
        self.stats.requests += 1
        self.stats.by_status[response.status_code] = (
            self.stats.by_status.get(response.status_code, 0) + 1
        )
        if response.status_code == 429:
            self.stats.throttled += 1
        self.pacer.update(response.headers)
        cost = _float(_header(response.headers, "X-LS-API-Request-Cost"))
        if cost:
            self.stats.total_cost += cost
