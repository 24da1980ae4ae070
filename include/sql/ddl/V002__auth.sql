-- OAuth token store: one row per Lightspeed connection id. The tokens are Fernet-encrypted
-- (token_store.py); the metadata beside them is not secret and helps an operator see which
-- account a connection is authorized for and when it last rotated.
-- Refreshes take `SELECT ... FOR UPDATE` on the row, so two processes never spend the same
-- rotating refresh token.
CREATE SCHEMA IF NOT EXISTS lightspeed_auth;

CREATE TABLE lightspeed_auth.token_set (
    conn_id           text        PRIMARY KEY,
    client_id         text        NOT NULL,
    account_id        bigint,
    account_name      text,
    scopes            text        NOT NULL DEFAULT '',
    access_token_enc  bytea       NOT NULL,
    refresh_token_enc bytea       NOT NULL,
    issued_at         timestamptz,
    expires_at        timestamptz NOT NULL,
    key_id            text        NOT NULL,
    authorized_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at      timestamptz,
    refresh_count     bigint      NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

COMMENT ON COLUMN lightspeed_auth.token_set.key_id IS
    'Fingerprint of the Fernet key (not the key): tells a key change apart from corruption.';
