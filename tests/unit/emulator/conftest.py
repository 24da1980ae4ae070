"""In-process fixtures for the emulator's data side: a ResourceAPI on a frozen data clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from lightspeed_emulator.clock import DataClock
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.resources import ResourceAPI

NOW = datetime(2024, 6, 14, 12, 0, tzinfo=UTC)  # a Friday; US zones on DST, Phoenix not
BASE = "http://127.0.0.1:4321/API/V3/Account/120645"


class Emulator:
    """A ResourceAPI plus what a test needs: its clock and an HTTP-like call."""

    def __init__(self, now: datetime = NOW, **options: Any) -> None:
        self.clock = DataClock(now, speed=0)
        self.api = ResourceAPI(EmulatorConfig(**{"days": 3, **options}), self.clock)

    def get(
        self, entity: str, query: str | list[tuple[str, str]] = "", record_id: str | None = None
    ):
        """Like the server: a raw query string is decoded once with parse_qsl."""
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
        return self.api.handle(entity, record_id, pairs, f"{BASE}/{entity}.json")

    def ok(
        self, entity: str, query: str | list[tuple[str, str]] = "", record_id: str | None = None
    ) -> dict:
        response = self.get(entity, query, record_id)
        assert response.status == 200, response.body
        return response.body

    def pages(self, entity: str, query: str | list[tuple[str, str]] = "") -> Iterator[dict]:
        """Every page, following @attributes.next verbatim, with a loop guard."""
        body = self.ok(entity, query)
        seen: set[str] = set()
        for _ in range(10_000):
            yield body
            next_url = body["@attributes"]["next"]
            if not next_url:
                return
            assert next_url not in seen, "pagination loop"
            seen.add(next_url)
            body = self.ok(entity, urlsplit(next_url).query)
        raise AssertionError("more than 10000 pages")

    def all(self, entity: str, query: str | list[tuple[str, str]] = "") -> list[dict]:
        return [
            record for page in self.pages(entity, query) for record in self.records(page, entity)
        ]

    @staticmethod
    def records(body: dict, key: str) -> list[dict]:
        """The records of a page or relation block, whatever the one-or-many quirk did."""
        value = body.get(key)
        if value is None:
            return []
        return [value] if isinstance(value, dict) else list(value)

    @staticmethod
    def encoded(pairs: list[tuple[str, str]]) -> str:
        """The query string a careful client sends (every reserved character percent-encoded)."""
        return urlencode(pairs)

    @staticmethod
    def raw(pairs: list[tuple[str, str]]) -> str:
        """The query string a sloppy client sends: operators and offsets as typed."""
        return "&".join(f"{name}={value}" for name, value in pairs)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def make_emulator() -> Callable[..., Emulator]:
    return Emulator
