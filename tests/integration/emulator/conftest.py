"""Fixtures for the emulator's HTTP side: servers on free ports, a browser-like OAuth driver.

Most tests serve a small fake data side (`FakeResources`) so that they check the HTTP
behaviour (OAuth, headers, bucket, faults) and nothing else; `test_real_data_side.py`
runs the same server over the real `ResourceAPI`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lightspeed_emulator.clock import DataClock
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.server import EmulatorServer

TIMEOUT = 10
ALL_TEST_SCOPES = "employee:register employee:inventory_read employee:admin_employees"
PINNED_NOW = datetime(2026, 3, 2, 15, 30, 0, tzinfo=UTC)


@dataclass
class FakeApiResponse:
    status: int
    body: dict


@dataclass
class FakeResources:
    """A tiny stand-in for ResourceAPI: fixed records, recorded calls, an optional failure."""

    config: EmulatorConfig
    clock: DataClock
    mutations: list[tuple[str, int, dict[str, str] | None]] = field(default_factory=list)
    calls: list[tuple[str, str | None, list[tuple[str, str]], str]] = field(default_factory=list)
    fail_with: Exception | None = None

    SCOPES = {
        "Sale": frozenset({"employee:register", "employee:register_read"}),
        "Shop": frozenset({"employee:register", "employee:admin_shops"}),
        "Employee": frozenset({"employee:admin_employees"}),
        "EmployeeHours": frozenset({"employee:admin_employees"}),
    }

    def account_list(self) -> dict:
        account = {"accountID": str(self.config.account_id), "name": self.config.account_name}
        return {"@attributes": {"count": "1"}, "Account": account}

    def handle(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]], base_url: str
    ) -> FakeApiResponse:
        self.calls.append((entity, record_id, query, base_url))
        if self.fail_with is not None:
            raise self.fail_with
        if entity not in self.SCOPES:
            return FakeApiResponse(404, {"httpCode": "404", "message": f"no {entity}"})
        records = [
            {f"{entity[0].lower()}{entity[1:]}ID": str(i), "note": "x" * 200} for i in range(1, 31)
        ]
        return FakeApiResponse(200, {"@attributes": {"next": "", "previous": ""}, entity: records})

    def request_cost(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]]
    ) -> float:
        if entity not in self.SCOPES:
            raise KeyError(entity)
        return (
            10.0
            if ("count", "1") in query
            else 1.0 + 0.5 * sum(k == "load_relations" for k, _ in query)
        )

    def required_scopes(self, entity: str) -> frozenset[str]:
        return self.SCOPES[entity]

    def shops(self) -> list[dict]:
        return [{"shopID": "1"}, {"shopID": "2"}]

    def mutate(self, entity: str, record_id: int, fields: dict[str, str] | None) -> None:
        if entity not in self.SCOPES:
            raise KeyError(entity)
        self.mutations.append((entity, record_id, fields))


class WallClock:
    """An injectable wall clock for the OAuth server: codes and tokens expire without sleeping."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Monotonic(WallClock):
    """An injectable monotonic clock for the leaky bucket."""


@dataclass
class Emulator:
    """A running server plus the handles a test needs."""

    server: EmulatorServer
    resources: FakeResources | Any
    wall: WallClock
    monotonic: Monotonic

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def account_url(self) -> str:
        return f"{self.url}/API/V3/Account/{self.server.config.account_id}"


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with config overrides; `real=True` serves the real ResourceAPI."""
    started: list[EmulatorServer] = []

    def factory(*, real: bool = False, **overrides: Any) -> Emulator:
        settings: dict[str, Any] = {"now": PINNED_NOW, "clock_speed": 0.0, "shops": 1, "days": 1}
        settings["sales_per_day"] = 5
        settings.update(overrides)
        config = EmulatorConfig(**settings)
        wall, monotonic = WallClock(), Monotonic(1000.0)
        resources = None if real else FakeResources(config, DataClock(config.now, 0.0))
        server = EmulatorServer(config, resources=resources, now=wall, monotonic=monotonic)
        server.start()
        started.append(server)
        return Emulator(server, server.resources, wall, monotonic)

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A default emulator (control endpoints off) over the fake data side."""
    return make_emulator()


@pytest.fixture
def control_emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(control=True)


# ----- a browser-like driver for the authorize flow -------------------------------------------

NOWHERE = "http://127.0.0.1:9/callback"  # the discard port: nothing listens, nothing is followed


def hidden_request_id(page: str) -> str:
    match = re.search(r"name='request_id' value='([^']+)'", page)
    assert match, f"no request_id in page: {page[:300]}"
    return match.group(1)


def start_authorize(
    session: requests.Session, url: str, scope: str = ALL_TEST_SCOPES, **extra: str
) -> requests.Response:
    params = {
        "response_type": "code",
        "client_id": "demo-client",
        "scope": scope,
        "state": "xyz-state",
        "redirect_uri": NOWHERE,
        **extra,
    }
    return session.get(f"{url}/auth/oauth/authorize", params=params, timeout=TIMEOUT)


def log_in(
    session: requests.Session, url: str, page: str, username: str, password: str
) -> requests.Response:
    data = {"request_id": hidden_request_id(page), "username": username, "password": password}
    return session.post(f"{url}/auth/oauth/login", data=data, timeout=TIMEOUT)


def decide(session: requests.Session, url: str, page: str, decision: str) -> requests.Response:
    data = {"request_id": hidden_request_id(page), "decision": decision}
    return session.post(
        f"{url}/auth/oauth/approve", data=data, allow_redirects=False, timeout=TIMEOUT
    )


def callback_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(NOWHERE), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorization_code(url: str, scope: str = ALL_TEST_SCOPES, **extra: str) -> str:
    """Drive login and consent as the owner; return the code from the callback URL."""
    with requests.Session() as session:
        page = start_authorize(session, url, scope, **extra).text
        page = log_in(session, url, page, "owner", "owner").text
        return callback_params(decide(session, url, page, "authorize"))["code"]


def exchange(url: str, code: str, **extra: str) -> requests.Response:
    data = {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "grant_type": "authorization_code",
        "code": code,
        **extra,
    }
    return requests.post(f"{url}/auth/oauth/token", data=data, timeout=TIMEOUT)


def refresh(url: str, refresh_token: str, **extra: str) -> requests.Response:
    data = {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        **extra,
    }
    return requests.post(f"{url}/auth/oauth/token", data=data, timeout=TIMEOUT)


def tokens(url: str, scope: str = ALL_TEST_SCOPES) -> dict[str, Any]:
    """A fresh token pair through the whole authorize flow."""
    response = exchange(url, authorization_code(url, scope))
    assert response.status_code == 200, response.text
    return response.json()


def api_get(url: str, access_token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return requests.get(url, headers=headers, timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


@pytest.fixture
def flow() -> SimpleNamespace:
    """The driver functions above, for test modules (importlib mode cannot import conftest)."""
    return SimpleNamespace(
        TIMEOUT=TIMEOUT,
        NOWHERE=NOWHERE,
        ALL_TEST_SCOPES=ALL_TEST_SCOPES,
        PINNED_NOW=PINNED_NOW,
        start_authorize=start_authorize,
        log_in=log_in,
        decide=decide,
        callback_params=callback_params,
        authorization_code=authorization_code,
        exchange=exchange,
        refresh=refresh,
        tokens=tokens,
        api_get=api_get,
        hidden_request_id=hidden_request_id,
    )
