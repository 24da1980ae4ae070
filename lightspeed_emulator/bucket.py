"""The leaky bucket that throttles API requests, one per (account, OAuth client) connection.

Lightspeed's 2026 model: every request adds its cost to a fractional level that drains at a
fixed drip rate per real second. The overflow rule lets the first request that pushes the
level past the size through; everything after it is refused until the level is back under
the size. The emulator never switches this off: tests that must not be throttled use a big
bucket or a fast drip instead, so the client's pacing code always runs against real headers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BucketDecision:
    """The outcome of one request against a bucket, with what the response headers need."""

    allowed: bool
    level: float  # after the request (unchanged when refused)
    size: float
    drip_rate: float
    cost: float
    retry_after: int  # whole seconds until a request would be accepted; 0 when allowed


class LeakyBucket:
    """A fractional leaky bucket; `monotonic` is injectable so unit tests never wait."""

    def __init__(
        self,
        size: float,
        drip_rate: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if size <= 0 or drip_rate <= 0:
            raise ValueError("bucket size and drip rate must be positive")
        self.size = float(size)
        self.drip_rate = float(drip_rate)
        self._monotonic = monotonic
        self._level = 0.0
        self._last = monotonic()
        self._lock = threading.Lock()

    def _drain(self) -> float:
        now = self._monotonic()
        self._level = max(0.0, self._level - (now - self._last) * self.drip_rate)
        self._last = now
        return self._level

    def level(self) -> float:
        """The current level after draining, without charging anything."""
        with self._lock:
            return self._drain()

    def consume(self, cost: float) -> BucketDecision:
        """Charge `cost` if the bucket is below its size (the overflow rule), else refuse."""
        with self._lock:
            level = self._drain()
            if level < self.size:
                self._level = level + cost
                return BucketDecision(True, self._level, self.size, self.drip_rate, cost, 0)
            return BucketDecision(
                False, level, self.size, self.drip_rate, cost, self._seconds_until_below(level)
            )

    def _seconds_until_below(self, level: float) -> int:
        # A request is accepted only once the level is strictly below the size, so an exact
        # multiple of the drip interval needs one more whole second.
        return max(1, math.floor((level - self.size) / self.drip_rate) + 1)

    def snapshot(self) -> dict[str, float]:
        """The bucket's state for the stats endpoint."""
        return {"level": round(self.level(), 6), "size": self.size, "drip_rate": self.drip_rate}


class BucketRegistry:
    """One bucket per connection key, created on first use with the configured size and drip."""

    def __init__(
        self,
        size: float,
        drip_rate: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.drip_rate = drip_rate
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, str], LeakyBucket] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str, client_id: str) -> LeakyBucket:
        """The bucket of (account, client), created empty on first use."""
        key = (account_id, client_id)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = LeakyBucket(self.size, self.drip_rate, self._monotonic)
                self._buckets[key] = bucket
            return bucket

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Every bucket's state, keyed "account:client"."""
        with self._lock:
            items = list(self._buckets.items())
        return {f"{acct}:{client}": bucket.snapshot() for (acct, client), bucket in items}

    def reset(self) -> None:
        """Forget every bucket (`POST /_emulator/stats/reset {"buckets": true}`)."""
        with self._lock:
            self._buckets.clear()


def format_number(value: float) -> str:
    """A header number as Lightspeed writes it: "1", "1.5", "77.340669"."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"
