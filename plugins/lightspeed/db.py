"""PostgreSQL connections for tasks, the CLI and tests.

Tasks pass an Airflow connection id (resolved through PostgresHook, so secrets backends and
`AIRFLOW_CONN_*` work); the CLI and tests may pass a libpq DSN or URL instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

WAREHOUSE_CONN_ID = "lightspeed_warehouse"


def connect(target: str = WAREHOUSE_CONN_ID) -> psycopg2.extensions.connection:
    """Open a connection from an Airflow connection id, or from a DSN/URL (`postgresql://...`)."""
    if "=" in target or "://" in target:
        conn = psycopg2.connect(target)
    else:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=target).get_conn()
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
        conn.rollback()
        raise
    finally:
        conn.close()
