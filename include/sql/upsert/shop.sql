-- Shops of a full reload: the newest version wins (time_stamp); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.shop AS t (
        account_id, shop_id, name, time_zone, archived, time_stamp, raw, run_id, loaded_at
    )
    SELECT
        account_id, shop_id, name, time_zone, archived, time_stamp, raw, %(run_id)s, now()
    FROM src_shop
    ON CONFLICT (account_id, shop_id) DO UPDATE SET
        name = excluded.name,
        time_zone = excluded.time_zone,
        archived = excluded.archived,
        time_stamp = excluded.time_stamp,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (t.time_stamp IS NULL OR excluded.time_stamp IS NULL OR t.time_stamp <= excluded.time_stamp)
      AND (
            t.name, t.time_zone, t.archived, t.time_stamp, t.raw
        ) IS DISTINCT FROM (
            excluded.name, excluded.time_zone, excluded.archived, excluded.time_stamp,
            excluded.raw
        )
    RETURNING t.shop_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
