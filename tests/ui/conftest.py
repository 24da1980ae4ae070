"""A real Airflow API server (with this repo's plugins) on a free port, in this process.

`create_app()` is Airflow's own api-server app, so the Lightspeed plugin is mounted exactly as
`airflow api-server` mounts it, behind SimpleAuthManager with known users. It runs in a
uvicorn thread of the test process, so per-test settings (`monkeypatch.setenv` of the
Lightspeed and warehouse connections, the chain config) reach it, and its metadata DB is the
session's (tests/conftest.py). Building the app takes Airflow ~20 s: one per session.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))  # chromium_cdp; importlib mode does not add it

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "ui"
HTTP_TIMEOUT = 30
# A Wednesday, 10:07 in Boston: shops are open and the last days hold plenty of sales.
PINNED_NOW = datetime(2026, 3, 4, 15, 7, tzinfo=UTC)
USERS = {"admin": "admin", "op": "op", "viewer": "viewer"}  # name -> SimpleAuthManager role
PASSWORDS = {name: f"{name}-pw-{os.getpid()}" for name in USERS}


@dataclass
class AirflowServer:
    url: str
    jwt_secret: str
    secret_key: str
    passwords_file: Path

    def token(self, user: str) -> str:
        """A real Airflow JWT for `user`, from Airflow's own login endpoint."""
        answer = requests.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": PASSWORDS[user]},
            timeout=HTTP_TIMEOUT,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def session(self, user: str | None) -> requests.Session:
        """A browser-like session: the UI's `_token` cookie, as Airflow's login page sets it."""
        session = requests.Session()
        if user is not None:
            session.cookies.set("_token", self.token(user), domain="127.0.0.1", path="/")
        return session


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    home = tmp_path_factory.mktemp("airflow-ui")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    secret_key, jwt_secret = f"ui-secret-{os.getpid()}", f"ui-jwt-{os.getpid()}-" + "k" * 64
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
            "simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{name}:{role}" for name, role in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__SECRET_KEY": secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__API__EXPOSE_CONFIG": "False",
        }.items():
            mp.setenv(key, value)
        from airflow.utils import db

        db.initdb()
        _serialize_dags()
        from airflow.api_fastapi.app import create_app

        app = create_app()
        with _Uvicorn(app) as url:
            yield AirflowServer(url, jwt_secret, secret_key, passwords)


def _serialize_dags() -> None:
    """Write the chain's DAGs to the metadata DB, as the dag-processor would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(REPO / "dags" / "lightspeed_shops.py"))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)


class _Uvicorn:
    """uvicorn serving `app` in a daemon thread on a socket bound first (no port race)."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process Airflow API server did not start")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture
def emulator() -> Iterator[object]:
    from lightspeed_emulator.config import EmulatorConfig
    from lightspeed_emulator.server import EmulatorServer

    config = EmulatorConfig(seed=42, shops=3, days=3, now=PINNED_NOW, clock_speed=0, control=True)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def lightspeed_conn(emulator: object, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`lightspeed_default` pointing at the emulator, tokens kept in this test's warehouse."""
    url = emulator.url  # type: ignore[attr-defined]
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIGHTSPEED_DEFAULT",
        json.dumps(
            {
                "conn_type": "lightspeed",
                "login": "demo-client",
                "password": "demo-secret",
                "host": url,
                "extra": {"oauth_base_url": url},
            }
        ),
    )
    return "lightspeed_default"


def log_in_at_lightspeed(
    session: requests.Session,
    authorize_url: str,
    *,
    user: str = "owner",
    decision: str = "authorize",
) -> requests.Response:
    """What the account owner does on Lightspeed's pages: log in, then Authorize (or Deny).

    Returns the emulator's redirect (not followed) to the callback.
    """
    page = session.get(authorize_url, timeout=HTTP_TIMEOUT)
    page.raise_for_status()
    base = authorize_url.split("/auth/oauth/")[0]
    page = session.post(
        f"{base}/auth/oauth/login",
        data={"request_id": _request_id(page.text), "username": user, "password": user},
        timeout=HTTP_TIMEOUT,
    )
    page.raise_for_status()
    return session.post(
        f"{base}/auth/oauth/approve",
        data={"request_id": _request_id(page.text), "decision": decision},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )


def _request_id(page: str) -> str:
    match = re.search(r"name=['\"]request_id['\"] value=['\"]([^'\"]+)['\"]", page)
    assert match, f"no request_id in the emulator's page: {page[:300]}"
    return match.group(1)
