"""The emulator's data clock: what "now" is for the shops it simulates.

It starts at `--now` (or the real time) and advances `clock_speed` data seconds per real
second (0 freezes it). Control endpoints may set or advance it. Every HTTP response's `Date`
header carries it, so clients can take their windows from the API's clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class DataClock:
    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._speed = speed
        self._anchor_data = (start or datetime.now(UTC)).astimezone(UTC)
        self._anchor_real = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            elapsed = time.monotonic() - self._anchor_real
            return self._anchor_data + timedelta(seconds=elapsed * self._speed)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._anchor_data = when.astimezone(UTC)
            self._anchor_real = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))
