"""PostgreSQL connections for tasks, the CLI and tests.

Tasks pass an Airflow connection id (resolved through BaseHook, so secrets backends and
`AIRFLOW_CONN_*` work); the CLI and tests may pass a libpq DSN or URL instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

from lightspeed.errors import ConfigError

WAREHOUSE_CONN_ID = "lightspeed_warehouse"


# Connection extras that are libpq options (the rest of `extra` is Airflow's business).
_LIBPQ_EXTRA = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
)


def dsn_for(target: str = WAREHOUSE_CONN_ID) -> str:
    """A libpq DSN for an Airflow connection id; a DSN or URL passes through unchanged.

    We build psycopg2 connections ourselves rather than through PostgresHook.get_conn(),
    which hands out psycopg 3 connections when psycopg is installed (it is, with SQLAlchemy
    2), while the loaders use psycopg2's COPY and `psycopg2.sql`. The DSN holds the
    password: never log it.
    """
    if "=" in target or "://" in target:
        return target
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(target)
    except Exception as exc:  # the SDK raises different "not found" types in and out of tasks
        if type(exc).__name__ not in {"AirflowNotFoundException", "AirflowRuntimeError"}:
            raise
        raise ConfigError(
            f"Airflow connection {target!r} (the PostgreSQL warehouse) was not found. Create it "
            f"in Admin > Connections, with `airflow connections add`, or set "
            f"AIRFLOW_CONN_{target.upper()}."
        ) from None
    extra = conn.extra_dejson or {}
    options = {key: extra[key] for key in _LIBPQ_EXTRA if extra.get(key) not in (None, "")}
    return psycopg2.extensions.make_dsn(
        host=conn.host or None,
        port=conn.port or None,
        user=conn.login or None,
        password=conn.password or None,
        dbname=conn.schema or None,
        **options,
    )


def connect(target: str = WAREHOUSE_CONN_ID) -> psycopg2.extensions.connection:
    """Open a psycopg2 connection from an Airflow connection id or a DSN/URL."""
    conn = psycopg2.connect(dsn_for(target))
    conn.autocommit = False
    return conn


@contextmanager
def transaction(target: str = WAREHOUSE_CONN_ID) -> Iterator[psycopg2.extensions.connection]:
    """One transaction: commit on success, roll back on any error, always close."""
    conn = connect(target)
    try:
        yield conn
        conn.commit()
    except BaseException:
        # A connection PostgreSQL already dropped cannot roll back; re-raise why it dropped.
        if not conn.closed:
            conn.rollback()
        raise
    finally:
        conn.close()
