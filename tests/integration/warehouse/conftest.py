"""Fixtures of the warehouse integration tests (real PostgreSQL; fake or emulated API)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

# The helper module sits next to this file; importlib mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from warehouse_helpers import FakeLightspeed  # noqa: E402


@pytest.fixture
def conn(warehouse_dsn: str) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(warehouse_dsn)
    yield connection
    connection.close()


@pytest.fixture
def api() -> FakeLightspeed:
    return FakeLightspeed()


class Emulated:
    """The real emulator (frozen data clock) and real hooks authorized against it.

    Tokens live in the test's warehouse (`warehouse_dsn`), as in production; extraction may
    target that warehouse or another database.
    """

    def __init__(self, server: object, connection: object, warehouse_dsn: str) -> None:
        self.server = server
        self.connection = connection
        self.warehouse_dsn = warehouse_dsn

    def hook(self) -> object:
        from lightspeed.hook import LightspeedHook
        from lightspeed.throttle import RetryPolicy

        return LightspeedHook(
            connection=self.connection,
            warehouse=self.warehouse_dsn,
            retry_policy=RetryPolicy(base_delay=0.01, max_delay=0.05),
            sleep=lambda _seconds: None,  # the bucket is sized so that nothing waits
        )

    def advance(self, hours: float) -> None:
        self.server.clock.advance(hours * 3600)  # type: ignore[attr-defined]


@pytest.fixture
def emulated(warehouse_dsn: str) -> Iterator[Emulated]:
    from warehouse_helpers import EMULATOR_NOW

    from lightspeed.authorize import authorize_with_login
    from lightspeed.connection import LightspeedConnection
    from lightspeed_emulator.config import EmulatorConfig
    from lightspeed_emulator.server import EmulatorServer

    # The generator reprices some archived items without moving their timeStamp (reported to
    # the emulator's owner): no incremental read can see that, so the convergence test uses a
    # seed where it does not happen in the 30 data hours it advances (checked offline).
    config = EmulatorConfig(
        seed=1,
        shops=2,
        days=4,
        sales_per_day=60,
        now=EMULATOR_NOW,
        clock_speed=0,
        control=True,
        bucket_size=10_000.0,
        drip_rate=10_000.0,
    )
    with EmulatorServer(config) as server:
        connection = LightspeedConnection(
            conn_id="lightspeed_default",
            client_id=config.client_id,
            client_secret=config.client_secret,
            api_base_url=server.url,
            oauth_base_url=server.url,
            redirect_uri="http://127.0.0.1:8765/callback",
        )
        authorize_with_login(connection, "owner", "owner", warehouse=warehouse_dsn)
        yield Emulated(server, connection, warehouse_dsn)


@pytest.fixture
def second_warehouse(empty_database_dsn: str) -> str:
    """Another migrated warehouse, to compare two ways of loading the same final state."""
    from lightspeed.migrate import migrate

    connection = psycopg2.connect(empty_database_dsn)
    try:
        migrate(connection)
    finally:
        connection.close()
    return empty_database_dsn
