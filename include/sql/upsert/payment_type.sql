-- Payment types of a full reload (no timestamp: the newest read wins); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.payment_type AS t (
        account_id, payment_type_id, name, type, archived, raw, run_id, loaded_at
    )
    SELECT
        account_id, payment_type_id, name, type, archived, raw, %(run_id)s, now()
    FROM src_payment_type
    ON CONFLICT (account_id, payment_type_id) DO UPDATE SET
        name = excluded.name,
        type = excluded.type,
        archived = excluded.archived,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (
            t.name, t.type, t.archived, t.raw
        ) IS DISTINCT FROM (
            excluded.name, excluded.type, excluded.archived, excluded.raw
        )
    RETURNING t.payment_type_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
