"""OAuth2 for Lightspeed R-Series: authorize URL, code exchange, refresh, and a requests auth.

Token requests are form-encoded and a refresh sends no `scope`: JSON plus `scope` has been
refused with invalid_grant (reference §2.3). Refresh tokens rotate on every refresh, so
`StoreAuth` refreshes only through the token store's row lock, and refreshes before expiry
(with a margin) and once on a 401. The body of a token response is never logged.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from lightspeed.connection import LightspeedConnection, parse_scopes
from lightspeed.errors import ConfigError, LightspeedAPIError, LightspeedError, ReauthorizeRequired
from lightspeed.throttle import RetryPolicy, Throttle, api_message
from lightspeed.token_store import TokenSet, TokenStore

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 30.0)
DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)
Now = Callable[[], datetime]


class AuthorizationFailed(LightspeedError):
    """The browser authorization did not complete (refused, wrong state, bad code, scopes)."""


def mask(*values: str | None) -> None:
    """Register secrets with Airflow's log masker so no task log can show them."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow is a hard dependency of the project
        return
    for value in values:
        if value:
            mask_secret(value)


def jwt_claims(access_token: str) -> dict[str, Any]:
    """The access token's claims (acct, scope, sub, exp), read without verifying the signature.

    The token came straight from the token endpoint over TLS, and we only read which account
    and scopes it carries; the API itself verifies it on every call.
    """
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}  # legacy opaque tokens: the caller falls back to Account.json
    return claims if isinstance(claims, dict) else {}


def missing_scopes(requested: Iterable[str], granted: Iterable[str]) -> list[str]:
    """Requested scopes the grant does not cover (`employee:all` covers all; X covers X_read)."""
    have = set(granted)
    if "employee:all" in have:
        return []
    missing = []
    for scope in requested:
        full = scope.removesuffix("_read")
        if scope not in have and full not in have:
            missing.append(scope)
    return missing


class OAuthClient:
    """The three OAuth calls: the authorize URL, the code exchange and the refresh.

    Args:
        conn: the Lightspeed connection (client credentials, URLs, scopes).
        session: the HTTP session; tests may mount crafted responses on it.
        timeout: (connect, read) seconds for the token endpoint.
        now: the clock used to turn `expires_in` into an expiry time.
        policy: retry policy for transient token-endpoint failures (few attempts: a refresh
            that keeps failing should surface, and Lightspeed rate-limits eager refreshers).
        sleep: how to wait between retries.
    """

    def __init__(
        self,
        conn: LightspeedConnection,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        now: Now | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.conn = conn
        self.session = session or requests.Session()
        self.timeout = timeout
        self._now = now or (lambda: datetime.now(UTC))
        self._throttle = Throttle(
            policy=policy or RetryPolicy(max_attempts=3, max_throttled=3), **_sleep(sleep)
        )
        mask(conn.client_secret)

    def authorization_url(
        self, state: str | None = None, redirect_uri: str | None = None
    ) -> tuple[str, str]:
        """The URL to open in a browser, and the `state` to expect back on the callback."""
        state = state or secrets.token_urlsafe(24)
        query = {
            "response_type": "code",
            "client_id": self.conn.client_id,
            "scope": " ".join(self.conn.scopes),  # urlencode writes the spaces as '+'
            "state": state,
            "redirect_uri": redirect_uri or self.conn.redirect_uri,
        }
        return f"{self.conn.authorize_url}?{urlencode(query)}", state

    def exchange_code(self, code: str, redirect_uri: str | None = None) -> TokenSet:
        """Trade an authorization code (valid 60 s, single use) for a token set."""
        body = self._post_token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri or self.conn.redirect_uri,
            },
            refreshing=False,
        )
        return self._token_set(body, previous=None)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """Spend `tokens.refresh_token` for a new pair; the old pair dies (rotation)."""
        body = self._post_token(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            refreshing=True,
        )
        return self._token_set(body, previous=tokens)

    def _post_token(self, fields: Mapping[str, str], *, refreshing: bool) -> dict[str, Any]:
        data = {
            "client_id": self.conn.client_id,
            "client_secret": self.conn.client_secret,
            **fields,
        }

        def send() -> requests.Response:
            return self.session.post(
                self.conn.token_url,
                data=data,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )

        try:
            _, body = self._throttle.execute(send, context="POST /auth/oauth/token")
        except LightspeedAPIError as exc:
            raise self._token_error(exc, refreshing) from None
        except ReauthorizeRequired:
            raise self._client_rejected() from None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise LightspeedAPIError(
                200, "the token endpoint answered without an access_token; retry later"
            )
        return body

    def _token_error(self, exc: LightspeedAPIError, refreshing: bool) -> LightspeedError:
        response = self._throttle.last_response
        payload = _json_or_none(response)
        error = payload.get("error") if isinstance(payload, dict) else None
        detail = api_message(payload, response)
        if error == "invalid_client":
            return self._client_rejected()
        if error == "invalid_grant" and refreshing:
            return ReauthorizeRequired(
                f"Lightspeed refused the stored refresh token ({detail}): the authorization was "
                "revoked, expired after 30 days unused, or the token was already spent.",
                self.conn.conn_id,
            )
        if error == "invalid_grant":
            return AuthorizationFailed(
                f"Lightspeed refused the authorization code ({detail}). Codes expire after 60 s "
                "and work once: run `lightspeed authorize` again and finish within a minute."
            )
        if error == "invalid_scope":
            return ConfigError(
                f"Lightspeed refused the requested scopes ({detail}): fix the `scopes` extra of "
                f"connection {self.conn.conn_id!r} (see reference scopes), then authorize again."
            )
        return exc

    def _client_rejected(self) -> ConfigError:
        return ConfigError(
            f"Lightspeed rejected the client ID/secret of connection {self.conn.conn_id!r} "
            "(invalid_client). Check its login (client ID) and password (client secret)."
        )

    def _token_set(self, body: Mapping[str, Any], previous: TokenSet | None) -> TokenSet:
        access = str(body["access_token"])
        refresh = str(body.get("refresh_token") or "")
        if not refresh:
            raise ReauthorizeRequired(
                "The token endpoint returned no refresh token.", self.conn.conn_id
            )
        mask(access, refresh)
        claims = jwt_claims(access)
        expires_in = _float(body.get("expires_in")) or 3600.0
        scopes = (
            parse_scopes(claims.get("scope"))
            or parse_scopes(body.get("scope"))
            or (previous.scopes if previous else ())
        )
        acct = _int(claims.get("acct"))
        issued_at = self._now()
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(seconds=expires_in),
            account_id=acct or (previous.account_id if previous else None),
            account_name=previous.account_name if previous else None,
            scopes=scopes,
        )


class StoreAuth(requests.auth.AuthBase):
    """Adds `Authorization: Bearer` from the token store; refreshes through its row lock.

    Args:
        store: where the token set lives.
        oauth: performs the refresh grant.
        margin: refresh when the access token expires within this.
        now: the clock that decides expiry (time_machine moves it in tests).
    """

    def __init__(
        self,
        store: TokenStore,
        oauth: OAuthClient,
        margin: timedelta = DEFAULT_REFRESH_MARGIN,
        now: Now | None = None,
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.margin = margin
        self._now = now or (lambda: datetime.now(UTC))
        self._tokens: TokenSet | None = None
        self.refresh_count = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens().access_token}"
        return request

    def tokens(self) -> TokenSet:
        """The token set to use now, refreshed first if it is about to expire."""
        if self._tokens is None:
            self._tokens = self.store.get()
            mask(self._tokens.access_token, self._tokens.refresh_token)
        if self._expiring(self._tokens):
            self._refresh(self._tokens.access_token)
        assert self._tokens is not None
        return self._tokens

    def on_unauthorized(self) -> None:
        """A 401: refresh once (unless another process already did), for one retry."""
        stale = self._tokens.access_token if self._tokens else None
        self._refresh(stale)

    def _refresh(self, stale_access_token: str | None) -> None:
        tokens = self.store.refresh_locked(stale_access_token, self._do_refresh, self._expiring)
        mask(tokens.access_token, tokens.refresh_token)
        self._tokens = tokens

    def _do_refresh(self, current: TokenSet) -> TokenSet:
        self.refresh_count += 1
        return self.oauth.refresh(current)

    def _expiring(self, tokens: TokenSet) -> bool:
        return tokens.expires_within(self.margin, self._now())


def _sleep(sleep: Callable[[float], None] | None) -> dict[str, Any]:
    return {"sleep": sleep} if sleep is not None else {}


def _json_or_none(response: requests.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
