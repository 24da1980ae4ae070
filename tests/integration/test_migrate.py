"""Migrations against the real PostgreSQL: idempotent, versioned, and strict about history."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from lightspeed.errors import ConfigError
from lightspeed.migrate import discover, migrate


def test_migrate_applies_every_version_once(empty_database_dsn: str) -> None:
    conn = psycopg2.connect(empty_database_dsn)
    try:
        applied = migrate(conn)
        assert applied == [m.version for m in discover()]
        assert migrate(conn) == []
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('lightspeed_staging.sale') IS NOT NULL")
            assert cur.fetchone() == (True,)
    finally:
        conn.close()


def test_edited_migration_is_refused(empty_database_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "V001__first.sql").write_text("CREATE TABLE t1 (id int);")
    conn = psycopg2.connect(empty_database_dsn)
    try:
        assert migrate(conn, tmp_path) == [1]
        (tmp_path / "V001__first.sql").write_text("CREATE TABLE t1 (id bigint);")
        with pytest.raises(ConfigError, match="changed after it was applied"):
            migrate(conn, tmp_path)
    finally:
        conn.close()


def test_failed_migration_changes_nothing(empty_database_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "V001__good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "V002__bad.sql").write_text("CREATE TABLE bad (id int); SELECT 1/0;")
    conn = psycopg2.connect(empty_database_dsn)
    try:
        with pytest.raises(psycopg2.Error):
            migrate(conn, tmp_path)
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('good') IS NULL AND to_regclass('bad') IS NULL")
            assert cur.fetchone() == (True,)
    finally:
        conn.close()
