-- Registers of a full reload (no timestamp: the newest read wins); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.register AS t (
        account_id, register_id, shop_id, name, archived, raw, run_id, loaded_at
    )
    SELECT
        account_id, register_id, shop_id, name, archived, raw, %(run_id)s, now()
    FROM src_register
    ON CONFLICT (account_id, register_id) DO UPDATE SET
        shop_id = excluded.shop_id,
        name = excluded.name,
        archived = excluded.archived,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (
            t.shop_id, t.name, t.archived, t.raw
        ) IS DISTINCT FROM (
            excluded.shop_id, excluded.name, excluded.archived, excluded.raw
        )
    RETURNING t.register_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
