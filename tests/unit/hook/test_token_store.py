from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from cryptography.fernet import Fernet

from lightspeed.errors import ConfigError, ReauthorizeRequired
from lightspeed.token_store import TokenSet, TokenStore, cipher_for

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


def tokens(access: str = "access-AAAA-1", refresh: str = "refresh-RRRR-1") -> TokenSet:
    return TokenSet(access, refresh, EXPIRES, 120645, "Demo Co.", ("employee:register",))


def test_round_trip_and_encrypted_at_rest(warehouse_dsn: str, ls_conn) -> None:
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    store.save(tokens())
    assert store.load() == tokens()
    with psycopg2.connect(warehouse_dsn) as pg, pg.cursor() as cur:
        cur.execute(
            "SELECT access_token_enc, refresh_token_enc, account_id, scopes "
            "FROM lightspeed_auth.token_set WHERE conn_id = %s",
            (ls_conn.conn_id,),
        )
        access_enc, refresh_enc, account_id, scopes = cur.fetchone()
    assert b"access-AAAA" not in bytes(access_enc) and b"refresh-RRRR" not in bytes(refresh_enc)
    assert (account_id, scopes) == (120645, "employee:register")


def test_repr_never_shows_tokens() -> None:
    assert "access-AAAA" not in repr(tokens()) and "refresh-RRRR" not in repr(tokens())


def test_missing_row_asks_to_authorize(warehouse_dsn: str, ls_conn) -> None:
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    assert store.load() is None
    with pytest.raises(ReauthorizeRequired, match="lightspeed authorize --conn-id lightspeed_unit"):
        store.get()


def test_key_precedence_extra_then_env_then_client_secret(ls_conn, monkeypatch) -> None:
    env_key, extra_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.delenv("LIGHTSPEED_TOKEN_KEY", raising=False)
    derived = cipher_for(ls_conn)
    assert derived.key_id == cipher_for(ls_conn).key_id  # deterministic from the secret
    monkeypatch.setenv("LIGHTSPEED_TOKEN_KEY", env_key)
    from_env = cipher_for(ls_conn)
    from_extra = cipher_for(replace(ls_conn, token_encryption_key=extra_key))
    assert len({derived.key_id, from_env.key_id, from_extra.key_id}) == 3
    assert Fernet(extra_key.encode()).decrypt(from_extra.encrypt("x")) == b"x"
    assert Fernet(env_key.encode()).decrypt(from_env.encrypt("x")) == b"x"


def test_bad_key_is_a_config_error(ls_conn) -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        cipher_for(replace(ls_conn, token_encryption_key="not-a-key"))


def test_changed_key_asks_to_authorize_again(warehouse_dsn: str, ls_conn) -> None:
    TokenStore.for_connection(ls_conn, warehouse_dsn).save(tokens())
    rotated_secret = replace(ls_conn, client_secret="a-new-client-secret")
    with pytest.raises(ReauthorizeRequired, match="encryption key changed"):
        TokenStore.for_connection(rotated_secret, warehouse_dsn).get()


def test_key_rotation_with_several_env_keys(warehouse_dsn: str, ls_conn, monkeypatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("LIGHTSPEED_TOKEN_KEY", old)
    TokenStore.for_connection(ls_conn, warehouse_dsn).save(tokens())
    monkeypatch.setenv("LIGHTSPEED_TOKEN_KEY", f"{new},{old}")
    assert TokenStore.for_connection(ls_conn, warehouse_dsn).get() == tokens()


def test_other_client_tokens_are_stale(warehouse_dsn: str, ls_conn) -> None:
    TokenStore.for_connection(ls_conn, warehouse_dsn).save(tokens())
    with pytest.raises(ReauthorizeRequired, match="another OAuth client"):
        TokenStore.for_connection(replace(ls_conn, client_id="other"), warehouse_dsn).get()


def test_refresh_locked_uses_tokens_another_process_stored(warehouse_dsn: str, ls_conn) -> None:
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    store.save(tokens("access-2", "refresh-2"))  # another process already rotated

    def must_not_refresh(_: TokenSet) -> TokenSet:
        raise AssertionError("spent a refresh token another process already spent")

    got = store.refresh_locked("access-1", must_not_refresh, needs_refresh=lambda t: False)
    assert got.access_token == "access-2"


def test_refresh_locked_refreshes_and_commits_before_returning(warehouse_dsn: str, ls_conn) -> None:
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    store.save(tokens())
    seen: list[str] = []

    def refresh(current: TokenSet) -> TokenSet:
        seen.append(current.refresh_token)
        return TokenSet("access-2", "refresh-2", EXPIRES + timedelta(hours=1))

    got = store.refresh_locked("access-AAAA-1", refresh, needs_refresh=lambda t: False)
    assert seen == ["refresh-RRRR-1"]
    # Another connection sees the new row: it was committed, with account data carried over.
    fresh = TokenStore.for_connection(ls_conn, warehouse_dsn).get()
    assert fresh == got and fresh.account_id == 120645 and fresh.scopes == ("employee:register",)
    with psycopg2.connect(warehouse_dsn) as pg, pg.cursor() as cur:
        cur.execute("SELECT refresh_count FROM lightspeed_auth.token_set")
        assert cur.fetchone() == (1,)


def test_failed_refresh_keeps_the_old_tokens(warehouse_dsn: str, ls_conn) -> None:
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    store.save(tokens())

    def refresh(_: TokenSet) -> TokenSet:
        raise ReauthorizeRequired("revoked.")

    with pytest.raises(ReauthorizeRequired):
        store.refresh_locked("access-AAAA-1", refresh, needs_refresh=lambda t: True)
    assert store.get() == tokens()


def test_missing_table_says_run_migrate(empty_database_dsn: str, ls_conn) -> None:
    with pytest.raises(ConfigError, match="lightspeed migrate"):
        TokenStore.for_connection(ls_conn, empty_database_dsn).load()


def test_refresh_margin_is_at_most_half_the_lifetime() -> None:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    short = TokenSet("a", "r", issued + timedelta(seconds=4), issued_at=issued)
    assert not short.expires_within(timedelta(minutes=5), issued + timedelta(seconds=1))
    assert short.expires_within(timedelta(minutes=5), issued + timedelta(seconds=2))
    hourly = TokenSet("a", "r", issued + timedelta(hours=1), issued_at=issued)
    assert hourly.expires_within(timedelta(minutes=5), issued + timedelta(minutes=55))
    assert not hourly.expires_within(timedelta(minutes=5), issued + timedelta(minutes=54))


def test_lock_held_too_long_is_transient(warehouse_dsn: str, ls_conn, monkeypatch) -> None:
    import lightspeed.token_store as module
    from lightspeed.errors import TransientAPIError

    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    store.save(tokens())
    monkeypatch.setattr(module, "_LOCK_TIMEOUT", "200ms")
    holder = psycopg2.connect(warehouse_dsn)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM lightspeed_auth.token_set FOR UPDATE")
        with pytest.raises(TransientAPIError, match="retry the task"):
            store.refresh_locked("access-AAAA-1", lambda t: t, needs_refresh=lambda t: True)
    finally:
        holder.rollback()
        holder.close()
