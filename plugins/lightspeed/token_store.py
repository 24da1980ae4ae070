"""The OAuth token set in PostgreSQL, encrypted at rest, with a row lock for refreshes.

Why here and not in the Airflow connection: refresh tokens rotate on every refresh, an
`AIRFLOW_CONN_*` connection is read-only, and Airflow 3 tasks have no metadata-DB access. The
warehouse is writable from every task and from the CLI, and a row lock serializes refreshes
across processes: the new refresh token is committed before its access token is used, and a
process that waited for the lock re-reads the row and uses the tokens the winner stored
instead of spending the (now revoked) refresh token again (reference §2.5, §11.5).

Encryption key, first found wins: the connection extra `token_encryption_key`, the env var
`LIGHTSPEED_TOKEN_KEY` (comma-separated keys allow rotation: the first encrypts, all decrypt),
else a key derived from the client secret with HKDF. The derived key needs no extra secret to
manage, but anyone holding the client secret can decrypt, and rotating the secret makes the
stored tokens unreadable (run `lightspeed authorize` again).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lightspeed import db
from lightspeed.connection import TOKEN_KEY_ENV, LightspeedConnection
from lightspeed.errors import ConfigError, ReauthorizeRequired, TransientAPIError

log = logging.getLogger(__name__)

_HKDF_SALT = b"lightspeed-tmas/token-store/v1"
_LOCK_TIMEOUT = "120s"  # a refresh is one HTTP call; waiting longer means something is stuck
Connect = Callable[[str], psycopg2.extensions.connection]


@dataclass(frozen=True)
class TokenSet:
    """One authorization: tokens (never printed) and what they are for."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    account_id: int | None = None
    account_name: str | None = None
    scopes: tuple[str, ...] = ()
    issued_at: datetime | None = None

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token is expired or will be within `margin`.

        The margin is at most half the token's lifetime, so short-lived tokens (emulator,
        tests) are not refreshed on every request.
        """
        if self.issued_at is not None:
            margin = min(margin, (self.expires_at - self.issued_at) / 2)
        return (now or datetime.now(UTC)) + margin >= self.expires_at


@dataclass(frozen=True)
class TokenCipher:
    """Fernet keys plus a fingerprint of the encrypting one (never the key itself)."""

    fernet: MultiFernet = field(repr=False)
    key_id: str

    @classmethod
    def from_keys(cls, keys: list[bytes]) -> TokenCipher:
        """The first key encrypts; every key decrypts (so keys can be rotated)."""
        return cls(
            MultiFernet([Fernet(key) for key in keys]), hashlib.sha256(keys[0]).hexdigest()[:16]
        )

    def encrypt(self, text: str) -> bytes:
        return self.fernet.encrypt(text.encode())

    def decrypt(self, blob: bytes) -> str:
        return self.fernet.decrypt(blob).decode()


def cipher_for(conn: LightspeedConnection) -> TokenCipher:
    """The token cipher of a connection, with keys in the documented order of precedence."""
    raw = conn.token_encryption_key or os.environ.get(TOKEN_KEY_ENV)
    if raw:
        source = (
            "the connection extra token_encryption_key"
            if conn.token_encryption_key
            else f"${TOKEN_KEY_ENV}"
        )
        try:
            return TokenCipher.from_keys([k.strip().encode() for k in raw.split(",") if k.strip()])
        except (ValueError, IndexError):
            raise ConfigError(
                f"The token encryption key in {source} is not a Fernet key. Generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`."
            ) from None
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=conn.client_id.encode()
    ).derive(conn.client_secret.encode())
    return TokenCipher.from_keys([base64.urlsafe_b64encode(derived)])


class TokenStore:
    """Reads, writes and refreshes one connection's token set in `lightspeed_auth.token_set`.

    Args:
        warehouse: an Airflow connection id or a PostgreSQL DSN/URL (lightspeed.db.connect).
        conn_id: the Lightspeed connection id the row is keyed by.
        client_id: the OAuth client the tokens belong to; tokens of another client are stale.
        cipher: the encryption keys (`cipher_for`).
        connect: how to open a PostgreSQL connection (tests may wrap it).
    """

    def __init__(
        self,
        warehouse: str,
        conn_id: str,
        client_id: str,
        cipher: TokenCipher,
        connect: Connect = db.connect,
    ) -> None:
        self.warehouse = warehouse
        self.conn_id = conn_id
        self.client_id = client_id
        self._cipher = cipher
        self._connect = connect

    @classmethod
    def for_connection(cls, conn: LightspeedConnection, warehouse: str | None = None) -> TokenStore:
        """The store a Lightspeed connection names (extra `token_store_conn_id`) or `warehouse`."""
        return cls(
            warehouse or conn.token_store_conn_id, conn.conn_id, conn.client_id, cipher_for(conn)
        )

    def load(self) -> TokenSet | None:
        """The stored token set, or None when this connection was never authorized."""
        with self._session() as pg, pg.cursor() as cur:
            cur.execute(_SELECT, (self.conn_id,))
            row = cur.fetchone()
        return self._decode(row) if row else None

    def get(self) -> TokenSet:
        """The stored token set; raises ReauthorizeRequired when there is none."""
        tokens = self.load()
        if tokens is None:
            raise ReauthorizeRequired(
                f"No Lightspeed authorization is stored for connection {self.conn_id!r}.",
                self.conn_id,
            )
        return tokens

    def save(self, tokens: TokenSet) -> None:
        """Insert or replace the token set (a new authorization); committed on return."""
        with self._session() as pg, pg.cursor() as cur:
            cur.execute(_UPSERT, self._params(tokens))
            pg.commit()

    def update_account(self, account_id: int, account_name: str | None) -> None:
        """Record which account the stored tokens belong to (known after Account.json)."""
        with self._session() as pg, pg.cursor() as cur:
            cur.execute(
                "UPDATE lightspeed_auth.token_set SET account_id = %s, account_name = %s, "
                "updated_at = now() WHERE conn_id = %s",
                (account_id, account_name, self.conn_id),
            )
            pg.commit()

    def delete(self) -> bool:
        with self._session() as pg, pg.cursor() as cur:
            cur.execute("DELETE FROM lightspeed_auth.token_set WHERE conn_id = %s", (self.conn_id,))
            pg.commit()
            return cur.rowcount > 0

    def refresh_locked(
        self,
        stale_access_token: str | None,
        refresh: Callable[[TokenSet], TokenSet],
        needs_refresh: Callable[[TokenSet], bool],
    ) -> TokenSet:
        """Refresh under the row lock, unless another process already did.

        Args:
            stale_access_token: the token this process found wanting (expiring or refused).
            refresh: spends the stored refresh token and returns the new set (the HTTP call).
            needs_refresh: whether a token set stored by another process is still too old.

        Returns:
            The token set to use: the one another process stored meanwhile, or the new one,
            committed before it is returned (so before its access token is ever used).
        """
        with self._session() as pg, pg.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = %s", (_LOCK_TIMEOUT,))
            cur.execute(_SELECT + " FOR UPDATE", (self.conn_id,))
            row = cur.fetchone()
            if row is None:
                raise ReauthorizeRequired(
                    f"No Lightspeed authorization is stored for connection {self.conn_id!r}.",
                    self.conn_id,
                )
            current = self._decode(row)
            if current.access_token != stale_access_token and not needs_refresh(current):
                log.info("Another process already refreshed %s; using its tokens", self.conn_id)
                pg.rollback()
                return current
            fresh = refresh(current)
            fresh = replace(
                fresh,
                account_id=fresh.account_id or current.account_id,
                account_name=fresh.account_name or current.account_name,
                scopes=fresh.scopes or current.scopes,
            )
            cur.execute(_UPDATE_REFRESHED, self._params(fresh))
            pg.commit()
            log.info("Refreshed and stored the Lightspeed tokens of %s", self.conn_id)
            return fresh

    def _session(self) -> _PgSession:
        return _PgSession(self._connect, self.warehouse)

    def _params(self, tokens: TokenSet) -> dict[str, object]:
        return {
            "conn_id": self.conn_id,
            "client_id": self.client_id,
            "account_id": tokens.account_id,
            "account_name": tokens.account_name,
            "scopes": " ".join(tokens.scopes),
            "access": self._cipher.encrypt(tokens.access_token),
            "refresh": self._cipher.encrypt(tokens.refresh_token),
            "expires_at": tokens.expires_at,
            "issued_at": tokens.issued_at,
            "key_id": self._cipher.key_id,
        }

    def _decode(self, row: tuple) -> TokenSet:
        (
            client_id,
            account_id,
            account_name,
            scopes,
            access,
            refresh,
            issued_at,
            expires_at,
            stored_key,
        ) = row
        if client_id != self.client_id:
            raise ReauthorizeRequired(
                f"The tokens stored for {self.conn_id!r} belong to another OAuth client ID "
                "(the connection's login changed).",
                self.conn_id,
            )
        try:
            access_token = self._cipher.decrypt(bytes(access))
            refresh_token = self._cipher.decrypt(bytes(refresh))
        except InvalidToken:
            why = (
                "the encryption key changed"
                if stored_key != self._cipher.key_id
                else "they are corrupt"
            )
            raise ReauthorizeRequired(
                f"The tokens stored for {self.conn_id!r} cannot be decrypted ({why}: check "
                f"token_encryption_key / ${TOKEN_KEY_ENV} / the client secret).",
                self.conn_id,
            ) from None
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            account_id=account_id,
            account_name=account_name,
            scopes=tuple(scopes.split()),
            issued_at=issued_at,
        )


class _PgSession:
    """One short-lived connection per store operation; rolls back and closes on any exit."""

    def __init__(self, connect: Connect, target: str) -> None:
        self._connect = connect
        self._target = target
        self._conn: psycopg2.extensions.connection | None = None

    def __enter__(self) -> psycopg2.extensions.connection:
        self._conn = self._connect(self._target)
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._conn is not None
        try:
            if not self._conn.closed:  # a dropped connection would hide the real error
                self._conn.rollback()  # no-op after a commit; releases the row lock on errors
        finally:
            self._conn.close()
        if isinstance(exc, psycopg2.errors.LockNotAvailable):
            raise TransientAPIError(
                f"Another process has held the token lock for over {_LOCK_TIMEOUT} while "
                "refreshing the Lightspeed tokens; retry the task."
            ) from None
        if isinstance(exc, psycopg2.errors.UndefinedTable):
            raise ConfigError(
                "The token store table lightspeed_auth.token_set does not exist in the "
                "warehouse: run `lightspeed migrate` first."
            ) from None


_COLUMNS = (
    "client_id, account_id, account_name, scopes, access_token_enc, refresh_token_enc, "
    "issued_at, expires_at, key_id"
)
_SELECT = f"SELECT {_COLUMNS} FROM lightspeed_auth.token_set WHERE conn_id = %s"  # noqa: S608
_UPSERT = """
INSERT INTO lightspeed_auth.token_set
    (conn_id, client_id, account_id, account_name, scopes, access_token_enc, refresh_token_enc,
     issued_at, expires_at, key_id, authorized_at, refreshed_at, refresh_count, updated_at)
VALUES (%(conn_id)s, %(client_id)s, %(account_id)s, %(account_name)s, %(scopes)s, %(access)s,
        %(refresh)s, %(issued_at)s, %(expires_at)s, %(key_id)s, now(), NULL, 0, now())
ON CONFLICT (conn_id) DO UPDATE SET
    client_id = excluded.client_id, account_id = excluded.account_id,
    account_name = excluded.account_name, scopes = excluded.scopes,
    access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
    issued_at = excluded.issued_at, expires_at = excluded.expires_at, key_id = excluded.key_id,
    authorized_at = now(), refreshed_at = NULL, refresh_count = 0, updated_at = now()
"""
_UPDATE_REFRESHED = """
UPDATE lightspeed_auth.token_set SET
    account_id = %(account_id)s, account_name = %(account_name)s, scopes = %(scopes)s,
    access_token_enc = %(access)s, refresh_token_enc = %(refresh)s,
    issued_at = %(issued_at)s, expires_at = %(expires_at)s,
    key_id = %(key_id)s, refreshed_at = now(), refresh_count = refresh_count + 1,
    updated_at = now()
WHERE conn_id = %(conn_id)s
"""
