"""Versioned, idempotent schema migrations for the warehouse.

Files `include/sql/ddl/V###__name.sql` are applied in version order, each once, all pending
ones in one transaction under an advisory lock, so concurrent DAG runs never race and a failed
migration leaves the schema as it was. An applied file whose text changed is an error: add a
new version instead of editing history.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions

from lightspeed.errors import ConfigError

log = logging.getLogger(__name__)

_ADVISORY_LOCK_KEY = 0x4C53_4D49  # "LSMI": one key for every migrator of this warehouse
_FILE_PATTERN = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")


def sql_dir() -> Path:
    """`include/sql` of this project; `LIGHTSPEED_SQL_DIR` overrides it (e.g. in an image)."""
    override = os.environ.get("LIGHTSPEED_SQL_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "include" / "sql"


def read_sql(relative: str) -> str:
    """The text of one SQL file under include/sql, e.g. `upsert/sale.sql`.

    Statements are trusted because they come from this folder: a path leading out of it
    (absolute, or through `..`) is refused rather than executed.
    """
    base = sql_dir().resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"{relative!r} is not a file under {base}; SQL is read from there only.")
    return path.read_text()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """All migration files in version order; a misnamed or duplicate version is an error."""
    directory = directory or sql_dir() / "ddl"
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise ConfigError(f"{path}: migration files must be named V###__name.sql")
        version = int(match.group(1))
        if version in found:
            raise ConfigError(f"{path}: version {version} is used twice in {directory}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def migrate(conn: psycopg2.extensions.connection, directory: Path | None = None) -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    migrations = discover(directory)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        cur.execute(
            """
            CREATE SCHEMA IF NOT EXISTS lightspeed_meta;
            CREATE TABLE IF NOT EXISTS lightspeed_meta.schema_migration (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        cur.execute("SELECT version, checksum FROM lightspeed_meta.schema_migration")
        applied = dict(cur.fetchall())
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise ConfigError(
                        f"Migration V{migration.version:03d}__{migration.name}.sql changed after it "
                        "was applied. Restore it and add a new V### file for the change."
                    )
                continue
            log.info("Applying migration V%03d__%s", migration.version, migration.name)
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO lightspeed_meta.schema_migration (version, name, checksum) "
                "VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            done.append(migration.version)
    conn.commit()
    return done
