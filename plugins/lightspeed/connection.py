"""The `lightspeed` Airflow connection: its fields, their defaults, and how to read it.

login = OAuth client ID, password = client secret, host = API base URL; the extras name the
OAuth server, the registered redirect URI, the scopes and the PostgreSQL connection that
stores the rotating tokens. Outside a task, Airflow's own lookup (`BaseHook.get_connection`)
still works in 3.3: it reads `AIRFLOW_CONN_*` variables, secrets backends and then the
metadata DB, so the CLI uses the same lookup as the DAGs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lightspeed.db import WAREHOUSE_CONN_ID
from lightspeed.errors import ConfigError

DEFAULT_CONN_ID = "lightspeed_default"
CONN_TYPE = "lightspeed"
DEFAULT_API_BASE_URL = "https://api.lightspeedapp.com"
DEFAULT_OAUTH_BASE_URL = "https://cloud.lightspeedapp.com"
# A loopback URI so `lightspeed authorize` can receive the code itself; the real server wants
# the HTTPS URI registered for the client, in which case the code is pasted (see authorize.py).
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
# Sales, payments, shops, registers and payment types need register; items and categories
# inventory_read; employees and their hours admin_employees (reference §2.7).
DEFAULT_SCOPES: tuple[str, ...] = (
    "employee:register",
    "employee:inventory_read",
    "employee:admin_employees",
)
TOKEN_KEY_ENV = "LIGHTSPEED_TOKEN_KEY"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LightspeedConnection:
    """Everything the hook and `lightspeed authorize` need from the connection."""

    conn_id: str
    client_id: str
    client_secret: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    oauth_base_url: str = DEFAULT_OAUTH_BASE_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_store_conn_id: str = WAREHOUSE_CONN_ID
    token_encryption_key: str | None = field(default=None, repr=False)

    @property
    def authorize_url(self) -> str:
        return f"{self.oauth_base_url}/auth/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.oauth_base_url}/auth/oauth/token"

    @property
    def encryption_key_source(self) -> str:
        """Where the Fernet key comes from: 'extra', 'env' or 'client_secret' (documented order)."""
        if self.token_encryption_key:
            return "extra"
        if os.environ.get(TOKEN_KEY_ENV):
            return "env"
        return "client_secret"


def from_airflow_connection(conn: Any, conn_id: str | None = None) -> LightspeedConnection:
    """Build a LightspeedConnection from an Airflow Connection (SDK or core model)."""
    conn_id = conn_id or getattr(conn, "conn_id", None) or DEFAULT_CONN_ID
    extra = _extra_of(conn)
    if not conn.login or not conn.password:
        raise ConfigError(
            f"Connection {conn_id!r} has no OAuth client ID (login) or secret (password). "
            "Set them from the client you registered at "
            "https://cloud.lightspeedapp.com/oauth/register.php (see docs/hook.md)."
        )
    return LightspeedConnection(
        conn_id=conn_id,
        client_id=conn.login,
        client_secret=conn.password,
        api_base_url=_base_url(conn.host, getattr(conn, "port", None), DEFAULT_API_BASE_URL),
        oauth_base_url=_base_url(extra.get("oauth_base_url"), None, DEFAULT_OAUTH_BASE_URL),
        redirect_uri=str(extra.get("redirect_uri") or DEFAULT_REDIRECT_URI),
        scopes=parse_scopes(extra.get("scopes")) or DEFAULT_SCOPES,
        token_store_conn_id=str(extra.get("token_store_conn_id") or WAREHOUSE_CONN_ID),
        token_encryption_key=extra.get("token_encryption_key") or None,
    )


def load_connection(
    conn_id: str = DEFAULT_CONN_ID, *, allow_metadata_db: bool = False
) -> LightspeedConnection:
    """Read the connection through Airflow's own lookup, in a task or outside one.

    In Airflow 3.3 `BaseHook.get_connection` outside a task reads `AIRFLOW_CONN_*` and the
    configured secrets backends but not the metadata DB; a task gets DB connections through
    the execution API. The CLI therefore passes `allow_metadata_db=True` to fall back to the
    metadata DB (`airflow connections add`), which only a process with DB access can read.
    """
    from airflow.sdk import BaseHook

    try:
        return from_airflow_connection(BaseHook.get_connection(conn_id), conn_id)
    except Exception as exc:  # the SDK raises different types in and outside a task
        if type(exc).__name__ not in {"AirflowNotFoundException", "AirflowRuntimeError"}:
            raise
    if allow_metadata_db:
        found = _from_metadata_db(conn_id)
        if found is not None:
            return from_airflow_connection(found, conn_id)
    raise ConfigError(
        f"Airflow connection {conn_id!r} was not found. Create it with "
        f"`airflow connections add {conn_id} --conn-type lightspeed --conn-login CLIENT_ID "
        f"--conn-password CLIENT_SECRET` or set AIRFLOW_CONN_{conn_id.upper()} (see docs/hook.md)."
    )


def _from_metadata_db(conn_id: str) -> Any | None:
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except Exception as exc:  # not found, no DB configured, or no access from here
        log.debug("Metadata DB lookup of %s failed: %s", conn_id, type(exc).__name__)
        return None


def parse_scopes(value: object) -> tuple[str, ...]:
    """Scopes from a space/comma separated string or a list; empty means 'use the default'."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _extra_of(conn: Any) -> Mapping[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if isinstance(extra, Mapping):
        return extra
    raw = getattr(conn, "extra", None) or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigError("The Lightspeed connection's extra is not valid JSON.") from None
    return parsed if isinstance(parsed, Mapping) else {}


def _base_url(host: str | None, port: int | None, default: str) -> str:
    """A scheme-qualified base URL without a trailing slash; a bare host means HTTPS."""
    if not host:
        return default
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = f"https://{host}" + (f":{port}" if port else "")
    parts = urlsplit(host)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{host!r} is not an http(s) base URL; use e.g. {default}.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
