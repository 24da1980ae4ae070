"""Exceptions shared by every layer. Each message tells the user what to do next."""

from __future__ import annotations


class LightspeedError(Exception):
    """Base class: an error whose message is fit to show a data engineer as is."""


class ConfigError(LightspeedError):
    """The chain config (include/shops.yaml) or a connection is wrong."""


class ReauthorizeRequired(LightspeedError):
    """The stored authorization is missing, revoked or expired beyond refresh."""

    def __init__(self, detail: str, conn_id: str = "lightspeed_default") -> None:
        super().__init__(
            f"{detail} Run `lightspeed authorize --conn-id {conn_id}` to log in to Lightspeed again."
        )
        self.conn_id = conn_id


class LightspeedAPIError(LightspeedError):
    """A request the API refused for good (a 4xx other than 401/429): retrying will not help."""

    def __init__(self, status: int, message: str, url: str = "") -> None:
        super().__init__(
            f"Lightspeed API returned {status}: {message}" + (f" ({url})" if url else "")
        )
        self.status = status


class TransientAPIError(LightspeedError):
    """Retries were exhausted on errors that are normally temporary (429, 5xx, timeouts)."""


class DataQualityError(LightspeedError):
    """Too many records failed validation, or a post-load check did not reconcile."""
