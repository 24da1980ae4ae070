"""Request counters behind `GET /_emulator/stats`: what a client really did to the API.

Tests and benchmarks read them to prove behaviour a user would notice (how many pages were
fetched, how often the client was throttled or refreshed its token) without parsing logs.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe counters: requests per endpoint and status, OAuth grants, throttling."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._events: Counter[str] = Counter()

    def record_request(self, endpoint: str, status: int) -> None:
        """Count one answered request; `endpoint` is an entity name or an OAuth/control path."""
        with self._lock:
            self._requests.setdefault(endpoint, Counter())[str(status)] += 1
            if status == 429:
                self._events["rate_limited"] += 1

    def record_event(self, name: str) -> None:
        """Count a named event, e.g. "refresh", "code_exchange", "token_expired_by_fault"."""
        with self._lock:
            self._events[name] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            requests = {endpoint: dict(codes) for endpoint, codes in self._requests.items()}
            events = dict(self._events)
        api = {k: v for k, v in requests.items() if not k.startswith(("oauth/", "control/"))}
        return {
            "requests": requests,
            "total_requests": sum(sum(codes.values()) for codes in requests.values()),
            "api_requests": sum(sum(codes.values()) for codes in api.values()),
            "rate_limited": events.get("rate_limited", 0),
            "refreshes": events.get("refresh", 0),
            "code_exchanges": events.get("code_exchange", 0),
            "events": events,
        }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._events.clear()
