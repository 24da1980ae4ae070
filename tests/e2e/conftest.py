"""End-to-end fixtures: Airflow's metadata DB, the emulator on a free port, an authorized
`lightspeed_default` connection whose tokens sit in the test's fresh warehouse, and a chain
config of the emulator's shops with retries off (a failing task fails the run at once
instead of dag.test() waiting out the retry delays)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# A Wednesday, 10:07 in Boston: shops are open, the last days hold plenty of sales.
PINNED_NOW = datetime(2026, 3, 4, 15, 7, tzinfo=UTC)

E2E_CHAIN = {
    "connection": "lightspeed_default",
    "warehouse": "lightspeed_warehouse",
    "defaults": {"initial_days": 1, "lookback_hours": 48, "retries": 0},
    "shops": [
        {
            "shop_id": 1,
            "sensor": "pearl",
            "time_zone": "US/Eastern",
            "label": "Boston Downtown",
            "opening_hours": {"mon-sat": "09:00-21:00", "sun": "11:00-18:00"},
        },
        {
            "shop_id": 2,
            "sensor": "3d_scope",
            "time_zone": "America/Phoenix",
            "label": "Phoenix Desert Ridge",
        },
    ],
}


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB (SQLite in the session's AIRFLOW_HOME), created once."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def chain_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "shops.yaml"
    path.write_text(yaml.safe_dump(E2E_CHAIN, sort_keys=False))
    # dag.test() re-parses the dags folder: the DAG file must read this config too.
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(path))
    return path


@pytest.fixture
def emulator() -> Iterator[object]:
    from lightspeed_emulator.config import EmulatorConfig
    from lightspeed_emulator.server import EmulatorServer

    config = EmulatorConfig(seed=42, shops=3, days=7, now=PINNED_NOW, clock_speed=0, control=True)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def emulator_conn(emulator: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """`lightspeed_default` pointing at the emulator (not authorized yet)."""
    url = emulator.url  # type: ignore[attr-defined]
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIGHTSPEED_DEFAULT",
        json.dumps(
            {
                "conn_type": "lightspeed",
                "login": "demo-client",
                "password": "demo-secret",
                "host": url,
                "extra": {"oauth_base_url": url, "redirect_uri": "http://127.0.0.1:0/callback"},
            }
        ),
    )
    return "lightspeed_default"


@pytest.fixture
def lightspeed_conn(emulator: object, emulator_conn: str, warehouse_dsn: str) -> str:
    """`lightspeed_default`, authorized as the owner through the emulator's login and consent
    forms (the same scripted browser the demo uses); tokens in this test's warehouse."""
    from lightspeed.authorize import authorize_with_login
    from lightspeed.connection import load_connection

    authorize_with_login(load_connection(emulator_conn), "owner", "owner", warehouse=warehouse_dsn)
    return emulator_conn
