"""The emulator's OAuth2 server: authorization-code flow, rotating refresh tokens, RS256 JWTs.

It follows Lightspeed's current server (reference §2): a login form and an "Authorize
Application" page, 60-second single-use codes, access tokens that are RS256 JWTs carrying
`acct`, `sub` and `scope`, and refresh tokens that rotate on every refresh. Since
2026-01-15 the used refresh token dies only when the new access token is first used on an
API request, so a client that lost the refresh response may retry with the same token (at
most `refresh_limit_per_minute` attempts per connection). Token lifetimes run on real time
(`now`, injectable), not on the data clock: a pinned or fast data clock must not expire
tokens.

State lives in memory and in this object only; every method is thread-safe because tests
call the control methods (`expire_access_tokens`, `revoke_refresh_tokens`) from their own
thread while uvicorn serves requests from another.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from lightspeed_emulator.config import EmulatorConfig

ISSUER = "https://cloud.lightspeedapp.com"
KEY_ID_PREFIX = "RT_OAUTH2_EMULATOR_"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
AUTH_REQUEST_TTL = 600.0  # seconds a login form stays valid
REFRESH_WINDOW = 60.0  # the per-connection refresh-attempt limit counts over this window

KNOWN_SCOPES = frozenset(
    "employee:" + name
    for name in (
        "all admin admin_employees admin_inventory admin_purchases admin_shops "
        "admin_void_sale categories customers customers_read "
        "customers_view_gift_card_numbers inventory inventory_read inventory_counts "
        "inventory_counts_reconcile manufacturers product_cost product_edit purchase_orders "
        "register register_read register_layaway register_refund reports special_orders tags "
        "transfers vendors vendor_returns workbench cfd inventory_base"
    ).split()
)

INVALID_GRANT_DESCRIPTION = (
    "The provided authorization grant (e.g., authorization code, resource owner credentials) "
    "or refresh token is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client."
)
INVALID_REQUEST_DESCRIPTION = (
    "The request is missing a required parameter, includes an invalid parameter value, "
    "includes a parameter more than once, or is otherwise malformed."
)
ACCESS_DENIED_DESCRIPTION = "The resource owner or authorization server denied the request."


@dataclass(frozen=True)
class DemoUser:
    """A Lightspeed employee login; only an admin (the account owner) may authorize apps."""

    username: str
    password: str
    employee_id: str
    first_name: str
    last_name: str
    admin: bool


DEMO_USERS = {
    "owner": DemoUser("owner", "owner", "1", "Olivia", "Owner", admin=True),
    "clerk": DemoUser("clerk", "clerk", "2", "Colin", "Clerk", admin=False),
}


class OAuthError(Exception):
    """An OAuth failure with the League-style body Lightspeed returns."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}" + (f" ({hint})" if hint else ""))
        self.status = status
        self.error = error
        self.description = description
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        body = {"error": self.error, "error_description": self.description}
        if self.hint:
            body["hint"] = self.hint
        return body


def invalid_request(hint: str) -> OAuthError:
    return OAuthError(400, "invalid_request", INVALID_REQUEST_DESCRIPTION, hint)


def invalid_grant(hint: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", INVALID_GRANT_DESCRIPTION, hint)


def invalid_refresh_token(hint: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", "The refresh token is invalid.", hint)


def access_denied(hint: str = "Access token could not be verified") -> OAuthError:
    return OAuthError(401, "access_denied", ACCESS_DENIED_DESCRIPTION, hint)


class LoginFailed(Exception):
    """The login form was refused; the message is shown on the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AuthRequest:
    """A pending authorize request between the login form and the consent decision."""

    request_id: str
    client_id: str
    scopes: tuple[str, ...]
    state: str | None
    redirect_uri: str
    redirect_uri_given: bool
    code_challenge: str | None
    code_challenge_method: str
    created: float
    user: DemoUser | None = None


@dataclass
class AuthCode:
    code: str
    request: AuthRequest
    user: DemoUser
    expires_at: float
    used: bool = False


@dataclass
class AccessRecord:
    jti: str
    client_id: str
    account_id: str
    user: DemoUser
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    refresh_token: str  # the refresh token minted in the same response
    parent_refresh: str | None  # the refresh token that was used to mint this pair
    revoked: bool = False
    used: bool = False


@dataclass
class RefreshRecord:
    token: str
    client_id: str
    account_id: str
    user: DemoUser
    scopes: tuple[str, ...]
    created: float
    access_jti: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    revoked: bool = False


@dataclass(frozen=True)
class TokenInfo:
    """What an API request may do, read from a verified access token."""

    jti: str
    client_id: str
    account_id: str
    user: DemoUser
    scopes: frozenset[str]
    expires_at: float


@lru_cache(maxsize=1)
def _signing_key() -> rsa.RSAPrivateKey:
    # One key per process: generating 2048-bit RSA keys for every test server adds seconds.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_id(key: rsa.RSAPrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    digest = hashlib.sha256(numbers.n.to_bytes(256, "big")).hexdigest()
    return KEY_ID_PREFIX + digest[:12]


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "plain":
        return secrets.compare_digest(verifier, challenge)
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(expected, challenge)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class OAuthServer:
    """Authorization-code and refresh-token grants for the configured demo client."""

    def __init__(self, config: EmulatorConfig, now: Callable[[], float] = time.time) -> None:
        self.config = config
        self._now = now
        self._lock = threading.RLock()
        self._key = _signing_key()
        self.key_id = _key_id(self._key)
        self._clients = {config.client_id: config.client_secret}
        self._redirect_uri = config.redirect_uri or DEFAULT_REDIRECT_URI
        self._refresh_limit = config.refresh_limit_per_minute
        self._requests: dict[str, AuthRequest] = {}
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, AccessRecord] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._refresh_attempts: dict[tuple[str, str], deque[float]] = {}

    # ----- keys -----------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public key set served at `/.well-known/jwks`."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        jwk.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    # ----- authorize: form, login, consent ---------------------------------------------------

    def start_authorization(self, params: Mapping[str, str]) -> AuthRequest:
        """Validate an authorize request and remember it until the user decides.

        Raises:
            OAuthError: unknown client, unsupported response type, or invalid scope (400).
        """
        client_id = params.get("client_id", "")
        if client_id not in self._clients:
            raise OAuthError(
                400, "invalid_client", "Client authentication failed", "Unknown client_id"
            )
        if params.get("response_type") != "code":
            raise OAuthError(
                400,
                "unsupported_response_type",
                "The authorization server does not support obtaining an authorization code "
                "using this method.",
                "Use response_type=code",
            )
        scopes = tuple(dict.fromkeys(params.get("scope", "").replace("+", " ").split()))
        unknown = [scope for scope in scopes if scope not in KNOWN_SCOPES]
        if not scopes or unknown:
            raise OAuthError(
                400,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed",
                f"Check the `{' '.join(unknown) or 'scope'}` scope"
                if unknown
                else "Ask for at least one scope",
            )
        redirect_uri = params.get("redirect_uri") or ""
        if redirect_uri and urlsplit(redirect_uri).scheme not in {"http", "https"}:
            raise invalid_request("Check the `redirect_uri` parameter: an http(s) URL is expected")
        method = params.get("code_challenge_method") or "plain"
        if params.get("code_challenge") and method not in {"plain", "S256"}:
            raise invalid_request("Check the `code_challenge_method` parameter: S256 or plain")
        request = AuthRequest(
            request_id=secrets.token_urlsafe(24),
            client_id=client_id,
            scopes=scopes,
            state=params.get("state"),
            redirect_uri=redirect_uri or self._redirect_uri,
            redirect_uri_given=bool(redirect_uri),
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=method,
            created=self._now(),
        )
        with self._lock:
            self._forget_stale_requests()
            self._requests[request.request_id] = request
        return request

    def _forget_stale_requests(self) -> None:
        cutoff = self._now() - AUTH_REQUEST_TTL
        for request_id in [k for k, v in self._requests.items() if v.created < cutoff]:
            del self._requests[request_id]

    def pending_request(self, request_id: str) -> AuthRequest:
        """The pending authorize request behind a form.

        Raises:
            LoginFailed: the form is unknown or older than ten minutes (400).
        """
        with self._lock:
            self._forget_stale_requests()
            request = self._requests.get(request_id)
        if request is None:
            raise LoginFailed(
                400, "This login form has expired. Go back to the application and start again."
            )
        return request

    def login(self, request_id: str, username: str, password: str) -> AuthRequest:
        """Check the login form; only an admin employee may authorize an application.

        Raises:
            LoginFailed: wrong credentials (401), a non-admin user (403), or a stale form (400).
        """
        request = self.pending_request(request_id)
        user = DEMO_USERS.get(username.strip().lower())
        if user is None or not secrets.compare_digest(user.password, password):
            raise LoginFailed(401, "Login failed: the username or password is incorrect.")
        if not user.admin:
            raise LoginFailed(
                403,
                f"Login failed: user {user.username!r} is not an administrator of this account "
                "and may not authorize applications. Ask the account owner to log in and "
                "authorize the application.",
            )
        with self._lock:
            request.user = user
        return request

    def decide(self, request_id: str, approve: bool) -> str:
        """Record the consent decision and return the redirect target (code or error)."""
        request = self.pending_request(request_id)
        if request.user is None:
            raise LoginFailed(400, "Log in before authorizing the application.")
        with self._lock:
            self._requests.pop(request_id, None)
            if not approve:
                params = {
                    "error": "access_denied",
                    "error_description": ACCESS_DENIED_DESCRIPTION,
                }
            else:
                code = secrets.token_urlsafe(48)
                self._codes[code] = AuthCode(
                    code, request, request.user, self._now() + self.config.code_ttl
                )
                params = {"code": code}
        if request.state is not None:
            params["state"] = request.state
        return _with_query(request.redirect_uri, params)

    # ----- token endpoint ---------------------------------------------------------------------

    def authenticate_client(self, fields: Mapping[str, str], basic: tuple[str, str] | None) -> str:
        """The client id, once its secret checks out (body fields or HTTP Basic).

        Raises:
            OAuthError: a missing client_id (400) or bad credentials (401 invalid_client).
        """
        client_id = fields.get("client_id") or (basic[0] if basic else "")
        secret = fields.get("client_secret") or (basic[1] if basic else "")
        if not client_id:
            raise invalid_request("Check the `client_id` parameter")
        expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, secret):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        return client_id

    def token(
        self, fields: Mapping[str, str], basic: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Handle `POST /auth/oauth/token`: exchange a code or rotate a refresh token.

        Raises:
            OAuthError: with the status and League-style body the client should see.
        """
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise invalid_request("Check the `grant_type` parameter")
        if grant_type not in {"authorization_code", "refresh_token"}:
            raise OAuthError(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
                "Check that all required parameters have been provided",
            )
        client_id = self.authenticate_client(fields, basic)
        if grant_type == "authorization_code":
            return self._exchange_code(client_id, fields)
        return self._refresh_grant(client_id, fields)

    def _exchange_code(self, client_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        code = fields.get("code")
        if not code:
            raise invalid_request("Check the `code` parameter")
        with self._lock:
            record = self._codes.get(code)
            if record is None:
                raise invalid_grant("Cannot decrypt the authorization code")
            if record.request.client_id != client_id:
                raise invalid_grant("Authorization code was not issued to this client")
            if record.used:
                raise invalid_grant("Authorization code has been revoked")
            if self._now() >= record.expires_at:
                raise invalid_grant("Authorization code has expired")
            self._check_redirect_and_pkce(record, fields)
            record.used = True
            return self._mint(client_id, record.user, record.request.scopes, parent=None)

    @staticmethod
    def _check_redirect_and_pkce(record: AuthCode, fields: Mapping[str, str]) -> None:
        redirect_uri = fields.get("redirect_uri")
        if (
            redirect_uri
            and record.request.redirect_uri_given
            and redirect_uri != record.request.redirect_uri
        ):
            raise invalid_grant("Invalid redirect URI")
        challenge = record.request.code_challenge
        if challenge is None:
            return
        verifier = fields.get("code_verifier")
        if not verifier:
            raise invalid_request("Check the `code_verifier` parameter")
        if not _pkce_matches(verifier, challenge, record.request.code_challenge_method):
            raise invalid_grant("Failed to verify `code_verifier`.")

    def _refresh_grant(self, client_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        token = fields.get("refresh_token")
        if not token:
            raise invalid_request("Check the `refresh_token` parameter")
        with self._lock:
            record = self._refresh.get(token)
            if record is None:
                raise invalid_refresh_token("Cannot decrypt the refresh token")
            if record.client_id != client_id:
                raise invalid_refresh_token("Token is not linked to client")
            self._count_refresh_attempt(record)
            if record.revoked:
                raise invalid_refresh_token("Token has been revoked")
            if self._now() - record.created > 30 * 86400:
                raise invalid_refresh_token("Token has expired")
            scopes = self._narrowed_scopes(record, fields.get("scope"))
            return self._mint(client_id, record.user, scopes, parent=record)

    def _count_refresh_attempt(self, record: RefreshRecord) -> None:
        if self._refresh_limit <= 0:
            return
        now = self._now()
        attempts = self._refresh_attempts.setdefault((record.account_id, record.client_id), deque())
        while attempts and attempts[0] <= now - REFRESH_WINDOW:
            attempts.popleft()
        if len(attempts) >= self._refresh_limit:
            wait = max(1, int(attempts[0] + REFRESH_WINDOW - now) + 1)
            raise OAuthError(
                429,
                "invalid_request",
                "Too many refresh attempts.",
                f"At most {self._refresh_limit} refresh attempts per minute per connection; "
                f"retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        attempts.append(now)

    @staticmethod
    def _narrowed_scopes(record: RefreshRecord, requested: str | None) -> tuple[str, ...]:
        if not requested:
            return record.scopes
        scopes = tuple(dict.fromkeys(requested.split()))
        extra = [scope for scope in scopes if scope not in record.scopes]
        if extra:
            raise OAuthError(
                400,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed",
                f"Check the `{' '.join(extra)}` scope",
            )
        return scopes

    def _mint(
        self,
        client_id: str,
        user: DemoUser,
        scopes: tuple[str, ...],
        parent: RefreshRecord | None,
    ) -> dict[str, Any]:
        now = self._now()
        account_id = str(self.config.account_id)
        jti = secrets.token_hex(40)
        refresh = "def50200" + secrets.token_hex(160)
        expires_at = now + self.config.token_ttl
        claims = {
            "aud": client_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "sub": user.employee_id,
            "scope": " ".join(scopes),
            "acct": account_id,
            "iss": ISSUER,
        }
        access = jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": self.key_id, "typ": "JWT"}
        )
        self._access[jti] = AccessRecord(
            jti,
            client_id,
            account_id,
            user,
            scopes,
            now,
            expires_at,
            refresh,
            parent.token if parent else None,
        )
        self._refresh[refresh] = RefreshRecord(
            refresh, client_id, account_id, user, scopes, now, jti, parent.token if parent else None
        )
        if parent is not None:
            parent.children.append(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl,
            "access_token": access,
            "refresh_token": refresh,
        }

    # ----- resource-server side ---------------------------------------------------------------

    def _record_for(self, token: str | None) -> AccessRecord:
        if not token:
            raise access_denied()
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise access_denied() from None
        record = self._access.get(str(claims.get("jti", "")))
        if record is None:
            raise access_denied()
        if record.revoked:
            raise access_denied("Access token has been revoked")
        if self._now() >= record.expires_at:
            raise access_denied()
        return record

    def authenticate(self, token: str | None) -> TokenInfo:
        """Verify an API request's bearer token and mark it used.

        The first use of an access token minted by a refresh is what finally revokes the
        refresh token that was spent (and the pair it belonged to).

        Raises:
            OAuthError: 401 access_denied for a missing, invalid, revoked or expired token.
        """
        with self._lock:
            record = self._record_for(token)
            if not record.used:
                record.used = True
                self._retire_parent(record)
            return TokenInfo(
                record.jti,
                record.client_id,
                record.account_id,
                record.user,
                frozenset(record.scopes),
                record.expires_at,
            )

    def _retire_parent(self, record: AccessRecord) -> None:
        parent = self._refresh.get(record.parent_refresh or "")
        if parent is None:
            return
        self._revoke_refresh(parent)
        # Sibling pairs minted by retries of the same refresh token lose to the pair in use.
        for sibling in parent.children:
            if sibling != record.refresh_token and sibling in self._refresh:
                self._revoke_refresh(self._refresh[sibling])

    def _revoke_refresh(self, record: RefreshRecord, with_access: bool = True) -> None:
        record.revoked = True
        if with_access and record.access_jti in self._access:
            self._access[record.access_jti].revoked = True

    def introspect(self, token: str | None) -> dict[str, Any]:
        """`GET /auth/oauth/introspect`: describe a token without marking it used."""
        with self._lock:
            try:
                record = self._record_for(token)
            except OAuthError:
                return {"active": False}
            return {
                "active": True,
                "scope": " ".join(record.scopes),
                "client_id": record.client_id,
                "sub": record.user.employee_id,
                "acct": record.account_id,
                "exp": record.expires_at,
                "iat": record.issued_at,
                "jti": record.jti,
                "token_type": "Bearer",
            }

    def revoke(self, fields: Mapping[str, str], basic: tuple[str, str] | None = None) -> None:
        """`POST /auth/oauth/revoke`: kill a refresh token (and its access token) for good.

        Raises:
            OAuthError: bad client credentials (401) or no token given (400).
        """
        client_id = self.authenticate_client(fields, basic)
        token = fields.get("refresh_token") or fields.get("token")
        if not token:
            raise invalid_request("Check the `refresh_token` parameter")
        with self._lock:
            record = self._refresh.get(token)
            if record is not None and record.client_id == client_id:
                self._revoke_refresh(record)

    # ----- control ----------------------------------------------------------------------------

    def revoke_refresh_tokens(self, token: str | None = None, with_access: bool = False) -> int:
        """Revoke one refresh token or all of them, as a user removing the app would.

        Access tokens keep working until they expire unless `with_access` is set.
        """
        with self._lock:
            records = [self._refresh[token]] if token in self._refresh else []
            if token is None:
                records = list(self._refresh.values())
            live = [record for record in records if not record.revoked]
            for record in live:
                self._revoke_refresh(record, with_access=with_access)
            return len(live)

    def expire_access_tokens(self, token: str | None = None) -> int:
        """Expire one access token (by JWT or jti) or all of them, now."""
        with self._lock:
            now = self._now()
            if token is None:
                records = list(self._access.values())
            else:
                jti = self._jti_of(token)
                records = [self._access[jti]] if jti in self._access else []
            live = [record for record in records if record.expires_at > now]
            for record in live:
                record.expires_at = now
            return len(live)

    def _jti_of(self, token: str) -> str:
        if token in self._access:
            return token
        try:
            return str(jwt.decode(token, options={"verify_signature": False}).get("jti", ""))
        except jwt.PyJWTError:
            return ""

    def counts(self) -> dict[str, int]:
        """Live token counts for the stats endpoint (never the tokens themselves)."""
        with self._lock:
            now = self._now()
            return {
                "access_tokens_live": sum(
                    1 for r in self._access.values() if not r.revoked and r.expires_at > now
                ),
                "refresh_tokens_live": sum(1 for r in self._refresh.values() if not r.revoked),
            }


# ----- HTML pages (plain forms that a browser or a requests.Session can drive) -------------

_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;color:#222}"
    "input,button{font-size:1rem;margin:.3rem 0;padding:.4rem}"
    ".error{color:#a00}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def render_login_page(request: AuthRequest, error: str | None = None) -> str:
    """The login form: fields `username`, `password` and the hidden `request_id`."""
    message = f"<p class='error' id='error'>{html.escape(error)}</p>" if error else ""
    return _page(
        "Lightspeed Retail: Log in",
        f"{message}<p>Log in to authorize <b>{html.escape(request.client_id)}</b>.</p>"
        "<form method='post' action='/auth/oauth/login'>"
        f"<input type='hidden' name='request_id' value='{html.escape(request.request_id)}'>"
        "<label>Username <input name='username' autocomplete='username'></label><br>"
        "<label>Password <input name='password' type='password' "
        "autocomplete='current-password'></label><br>"
        "<button type='submit'>Log in</button></form>",
    )


def render_authorize_page(request: AuthRequest) -> str:
    """The consent page: a `decision` button valued `authorize` or `deny`."""
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in request.scopes)
    user = request.user.username if request.user else ""
    return _page(
        "Authorize Application",
        f"<p><b>{html.escape(request.client_id)}</b> asks to access your Lightspeed account "
        f"as <b>{html.escape(user)}</b> with these scopes:</p><ul>{scopes}</ul>"
        "<form method='post' action='/auth/oauth/approve'>"
        f"<input type='hidden' name='request_id' value='{html.escape(request.request_id)}'>"
        "<button type='submit' name='decision' value='authorize'>Authorize Application</button> "
        "<button type='submit' name='decision' value='deny'>Deny</button></form>",
    )


def render_error_page(title: str, message: str) -> str:
    return _page(title, f"<p class='error' id='error'>{html.escape(message)}</p>")
