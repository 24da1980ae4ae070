"""Shared test set-up: an isolated Airflow home, a throwaway PostgreSQL database, the emulator.

Airflow reads its configuration when first imported, so the environment is set here, before
any test module imports it. PostgreSQL is the real server on 127.0.0.1:5432 (or
`LIGHTSPEED_TEST_PG`); every session gets its own databases and drops them at the end.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="lightspeed-airflow-")
os.environ.update(
    {
        "AIRFLOW_HOME": _AIRFLOW_HOME,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "LIGHTSPEED_SHOPS_CONFIG": os.environ.get(
            "LIGHTSPEED_SHOPS_CONFIG", str(REPO / "tests" / "fixtures" / "shops.yaml")
        ),
    }
)
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

PG_ADMIN_DSN = os.environ.get("LIGHTSPEED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dsn_for(database: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


def _admin_execute(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def _template_database() -> Iterator[str]:
    """A migrated warehouse used as the template of every test's fresh database."""
    import psycopg2

    from lightspeed.migrate import migrate

    name = f"ls_tmpl_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    conn = psycopg2.connect(_dsn_for(name))
    try:
        migrate(conn)
    finally:
        conn.close()
    yield name
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_dsn(_template_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DSN of a fresh, migrated warehouse database; also the `lightspeed_warehouse` connection."""
    name = f"ls_test_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database}"')
    dsn = _dsn_for(name)
    monkeypatch.setenv("AIRFLOW_CONN_LIGHTSPEED_WAREHOUSE", dsn)
    yield dsn
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_dsn() -> Iterator[str]:
    """DSN of a fresh database with no schema at all (for migration tests)."""
    name = f"ls_empty_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    yield _dsn_for(name)
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
