"""Crafted HTTP responses and a fake clock for the hook's unit tests.

`CraftedAdapter` is mounted on a real requests.Session: the hook's code runs unchanged down to
the transport, which answers from a queue. An unexpected request, or a stub never used, fails
the test.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from lightspeed.connection import LightspeedConnection


@dataclass
class Stub:
    method: str
    url_prefix: str
    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    exc: Exception | None = None


class CraftedAdapter(HTTPAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.stubs: deque[Stub] = deque()
        self.sent: list[requests.PreparedRequest] = []

    def add(self, method: str, url_prefix: str, status: int = 200, body: Any = None, **kw: Any):
        self.stubs.append(Stub(method, url_prefix, status, body, **kw))
        return self

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert kwargs.get("timeout"), "every request must carry a timeout"
        self.sent.append(request)
        assert self.stubs, f"unexpected request {request.method} {request.url}"
        stub = self.stubs.popleft()
        assert request.method == stub.method, (request.method, stub.method)
        assert request.url.startswith(stub.url_prefix), (request.url, stub.url_prefix)
        if stub.exc is not None:
            raise stub.exc
        response = requests.Response()
        response.status_code = stub.status
        response.reason = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests"}.get(
            stub.status, "Status"
        )
        response._content = stub.raw if stub.raw is not None else json.dumps(stub.body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **stub.headers})
        response.url = request.url
        response.request = request
        return response


_PG_ADMIN_DSN = os.environ.get(
    "LIGHTSPEED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin(sql: str) -> None:
    conn = psycopg2.connect(_PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def _unit_warehouse(_template_database: str) -> Iterator[str]:
    """One migrated database per module (creating and dropping one per test costs seconds)."""
    name = f"ls_unit_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database}"')
    yield _PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_dsn(_unit_warehouse: str) -> str:
    """Overrides the suite's fixture here: the module's database with an empty token store."""
    conn = psycopg2.connect(_unit_warehouse)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE lightspeed_auth.token_set")
    finally:
        conn.close()
    return _unit_warehouse


@pytest.fixture
def crafted() -> Iterator[CraftedAdapter]:
    adapter = CraftedAdapter()
    yield adapter
    assert not adapter.stubs, (
        f"stubs never called: {[(s.method, s.url_prefix) for s in adapter.stubs]}"
    )


class FakeTime:
    """Monotonic clock and sleep that only move when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


API = "https://api.test"
OAUTH = "https://cloud.test"


@pytest.fixture
def ls_conn() -> LightspeedConnection:
    return LightspeedConnection(
        conn_id="lightspeed_unit",
        client_id="unit-client",
        client_secret="unit-secret-value",
        api_base_url=API,
        oauth_base_url=OAUTH,
    )


def make_jwt(
    acct: int = 777,
    scope: str = "employee:register employee:inventory_read employee:admin_employees",
    **claims: Any,
) -> str:
    import jwt

    payload = {"acct": acct, "scope": scope, "sub": "1", **claims}
    return jwt.encode(payload, "k" * 32, algorithm="HS256")


def token_body(access: str, refresh: str, expires_in: int = 3600) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": access,
        "refresh_token": refresh,
    }


def in_minutes(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


class Kit:
    """Helpers handed to tests as a fixture (conftest modules are not importable)."""

    API = API
    OAUTH = OAUTH
    make_jwt = staticmethod(make_jwt)
    token_body = staticmethod(token_body)
    in_minutes = staticmethod(in_minutes)
    FakeTime = FakeTime


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
