"""The hook against the real emulator over HTTP, with tokens in a real PostgreSQL warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from lightspeed.authorize import AuthorizeResult, authorize_with_login
from lightspeed.connection import LightspeedConnection
from lightspeed.hook import LightspeedHook
from lightspeed.throttle import RetryPolicy
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

PINNED_NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
FAST = {"bucket_size": 90.0, "drip_rate": 1000.0}  # throttling is tested on its own


def emulator_config(**overrides: Any) -> EmulatorConfig:
    options: dict[str, Any] = {"now": PINNED_NOW, "clock_speed": 0, "control": True, **FAST}
    options.update(overrides)
    return EmulatorConfig(**options)


def connection_for(
    emulator: EmulatorServer, conn_id: str = "lightspeed_default"
) -> LightspeedConnection:
    return LightspeedConnection(
        conn_id=conn_id,
        client_id=emulator.config.client_id,
        client_secret=emulator.config.client_secret,
        api_base_url=emulator.url,
        oauth_base_url=emulator.url,
        redirect_uri="http://127.0.0.1:8765/callback",
    )


class Recorder:
    """A sleep that records instead of waiting (fault tests: the emulator counts requests)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


class Kit:
    def __init__(self, start: Callable[..., EmulatorServer], warehouse_dsn: str) -> None:
        self.start = start
        self.warehouse_dsn = warehouse_dsn

    def authorize(
        self,
        emulator: EmulatorServer,
        conn_id: str = "lightspeed_default",
        username: str = "owner",
        password: str = "owner",
        **kwargs: Any,
    ) -> tuple[LightspeedConnection, AuthorizeResult]:
        conn = connection_for(emulator, conn_id)
        result = authorize_with_login(
            conn, username, password, warehouse=self.warehouse_dsn, **kwargs
        )
        return conn, result

    @staticmethod
    def connection(
        emulator: EmulatorServer, conn_id: str = "lightspeed_default"
    ) -> LightspeedConnection:
        return connection_for(emulator, conn_id)

    def hook(self, conn: LightspeedConnection, **kwargs: Any) -> LightspeedHook:
        kwargs.setdefault("retry_policy", RetryPolicy(base_delay=0.01, max_delay=0.05))
        return LightspeedHook(connection=conn, warehouse=self.warehouse_dsn, **kwargs)

    @staticmethod
    def control(emulator: EmulatorServer, path: str, body: dict) -> dict:
        response = requests.post(f"{emulator.url}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def stats(emulator: EmulatorServer) -> dict:
        return requests.get(f"{emulator.url}/_emulator/stats", timeout=10).json()


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorServer]:
    """One 3-shop, 7-day chain for the read-only tests (faults are added and cleared per test)."""
    with EmulatorServer(emulator_config()) as emulator:
        yield emulator


@pytest.fixture
def kit(warehouse_dsn: str) -> Iterator[Kit]:
    started: list[EmulatorServer] = []

    def start(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(emulator_config(**overrides)).start()
        started.append(server)
        return server

    yield Kit(start, warehouse_dsn)
    for server in started:
        server.stop()
