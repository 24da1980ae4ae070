"""The authorization-code flow started from the Lightspeed page, ended on its callback.

`start_login` builds the authorize URL with a fresh `state` and returns a signed, short-lived
cookie value that binds that state to the Airflow user and the connection; `finish_login`
checks the callback against it, exchanges the code, checks the granted scopes, stores the
tokens in the token store the hook reads (`TokenStore.for_connection`), then asks the API
which account and shops they open. The state lives in the user's browser, not in the API
server's memory, so the flow works with several API-server workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lightspeed.auth import AuthorizationFailed, OAuthClient
from lightspeed.authorize import AuthorizeResult, complete_authorization
from lightspeed.connection import LightspeedConnection

log = logging.getLogger(__name__)

STATE_COOKIE = "lightspeed_oauth"
STATE_MAX_AGE_S = 600  # time to log in at Lightspeed; the code itself lives 60 s
_SALT = "lightspeed-ui/oauth-state/v1"
_AGAIN = "Click “Login to Lightspeed” again"


@dataclass(frozen=True)
class PendingLogin:
    """What the callback must find: signed into a cookie by `start_login`."""

    state: str
    conn_id: str
    user: str
    redirect_uri: str
    return_to: str


def signer(secret_key: str) -> URLSafeTimedSerializer:
    """Signs the state cookie with the API server's secret key (shared by all its workers)."""
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def start_login(
    conn: LightspeedConnection,
    *,
    redirect_uri: str,
    user: str,
    return_to: str,
    sign: URLSafeTimedSerializer,
) -> tuple[str, str]:
    """The Lightspeed authorize URL (with `state`) and the cookie value to set with it."""
    url, state = OAuthClient(conn).authorization_url(redirect_uri=redirect_uri)
    cookie = sign.dumps(
        {
            "state": state,
            "conn_id": conn.conn_id,
            "user": user,
            "redirect_uri": redirect_uri,
            "return_to": return_to,
        }
    )
    return url, cookie


def read_pending(cookie: str | None, sign: URLSafeTimedSerializer) -> PendingLogin:
    """The login this browser started, or AuthorizationFailed if none (or too old, or forged)."""
    if not cookie:
        raise AuthorizationFailed(
            "This browser has no Lightspeed login in progress (cookies blocked, or the login "
            f"was started in another browser). {_AGAIN}."
        )
    try:
        data = sign.loads(cookie, max_age=STATE_MAX_AGE_S)
    except SignatureExpired:
        raise AuthorizationFailed(
            f"The Lightspeed login took more than {STATE_MAX_AGE_S // 60} minutes. {_AGAIN}."
        ) from None
    except BadSignature:
        raise AuthorizationFailed(
            f"The Lightspeed login cookie is not valid (the API server's secret key changed?). {_AGAIN}."
        ) from None
    return PendingLogin(**data)


def finish_login(
    params: Mapping[str, str],
    pending: PendingLogin,
    conn: LightspeedConnection,
    *,
    user: str,
    warehouse: str | None = None,
    prepare_store: Callable[[str], None] | None = None,
    hook_options: Mapping[str, Any] | None = None,
) -> AuthorizeResult:
    """Check the callback, exchange the code, store the tokens, discover account and shops.

    Args:
        params: the callback's query parameters (`code`, `state`, or `error`).
        pending: the login this browser started (`read_pending`).
        conn: the Lightspeed connection named in `pending`.
        user: the Airflow user now calling back; must be the one who started.
        warehouse: the token store's target (conn id or DSN); default: the connection's.
        prepare_store: called with the token store's target before saving (the app migrates it).
        hook_options: extra LightspeedHook arguments (retry policy, timeouts).

    Raises:
        AuthorizationFailed: refused, state or user mismatch, bad code, missing scopes.
        LightspeedError: the code exchange or the discovery failed (message says what to do).
    """
    if pending.user != user:
        raise AuthorizationFailed(
            f"This Lightspeed login was started by Airflow user {pending.user!r}, not {user!r}. "
            f"{_AGAIN}."
        )
    return complete_authorization(
        conn,
        params,
        state=pending.state,
        redirect_uri=pending.redirect_uri,
        warehouse=warehouse,
        again="click “Login to Lightspeed” again",
        prepare_store=prepare_store,
        hook_options=hook_options,
    )
