"""Airflow provider metadata: registers the `lightspeed` connection type and its form.

Airflow 3.3 reads connection-form fields declaratively from the provider info
(`conn-fields` and `ui-field-behaviour`) without importing the hook; the hook's own
`get_ui_field_behaviour`/`get_connection_form_widgets` are deprecated since 3.2. The entry
point is declared in pyproject.toml (`apache_airflow_provider`).
"""

from __future__ import annotations

from typing import Any

from lightspeed.connection import (
    DEFAULT_API_BASE_URL,
    DEFAULT_OAUTH_BASE_URL,
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPES,
)
from lightspeed.db import WAREHOUSE_CONN_ID

_VERSION = "0.1.0"


def _string_field(label: str, description: str, default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


def get_provider_info() -> dict[str, Any]:
    """The provider dict Airflow's ProvidersManager validates and reads."""
    return {
        "package-name": "lightspeed-tmas",
        "name": "Lightspeed Retail (R-Series) for T.M.A.S.",
        "description": "Lightspeed Retail (R-Series) POS hook with OAuth2 token rotation.",
        "versions": [_VERSION],
        "connection-types": [
            {
                "hook-class-name": "lightspeed.hook.LightspeedHook",
                "hook-name": "Lightspeed Retail (R-Series)",
                "connection-type": "lightspeed",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "API base URL",
                        "login": "OAuth client ID",
                        "password": "OAuth client secret",
                    },
                    "placeholders": {
                        "host": DEFAULT_API_BASE_URL,
                        "login": "client id from cloud.lightspeedapp.com/oauth/register.php",
                    },
                },
                "conn-fields": {
                    "oauth_base_url": _string_field(
                        "OAuth base URL",
                        "Authorization server (authorize and token endpoints).",
                        DEFAULT_OAUTH_BASE_URL,
                    ),
                    "redirect_uri": _string_field(
                        "Redirect URI",
                        "The redirect URI registered for the client; `lightspeed authorize` "
                        "listens on its port on 127.0.0.1.",
                        DEFAULT_REDIRECT_URI,
                    ),
                    "scopes": _string_field(
                        "Scopes",
                        "Space-separated scopes to request (default: what the extraction needs).",
                        " ".join(DEFAULT_SCOPES),
                    ),
                    "token_store_conn_id": _string_field(
                        "Token store connection",
                        "PostgreSQL connection id (the warehouse) that stores the rotating tokens.",
                        WAREHOUSE_CONN_ID,
                    ),
                    "token_encryption_key": {
                        "label": "Token encryption key",
                        "description": "Fernet key for tokens at rest; default LIGHTSPEED_TOKEN_KEY "
                        "or a key derived from the client secret.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
            }
        ],
    }
