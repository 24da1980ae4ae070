-- Items of one run: the newest version wins (time_stamp); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.item AS t (
        account_id, item_id, description, category_id, item_type, default_price, archived,
        time_stamp, raw, run_id, loaded_at
    )
    SELECT
        account_id, item_id, description, category_id, item_type, default_price, archived,
        time_stamp, raw, %(run_id)s, now()
    FROM src_item
    ON CONFLICT (account_id, item_id) DO UPDATE SET
        description = excluded.description,
        category_id = excluded.category_id,
        item_type = excluded.item_type,
        default_price = excluded.default_price,
        archived = excluded.archived,
        time_stamp = excluded.time_stamp,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (t.time_stamp IS NULL OR excluded.time_stamp IS NULL OR t.time_stamp <= excluded.time_stamp)
      AND (
            t.description, t.category_id, t.item_type, t.default_price, t.archived,
            t.time_stamp, t.raw
        ) IS DISTINCT FROM (
            excluded.description, excluded.category_id, excluded.item_type,
            excluded.default_price, excluded.archived, excluded.time_stamp, excluded.raw
        )
    RETURNING t.item_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
