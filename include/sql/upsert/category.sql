-- Categories of one run: the newest version wins (time_stamp); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.category AS t (
        account_id, category_id, name, full_path_name, parent_id, time_stamp, raw, run_id,
        loaded_at
    )
    SELECT
        account_id, category_id, name, full_path_name, parent_id, time_stamp, raw, %(run_id)s,
        now()
    FROM src_category
    ON CONFLICT (account_id, category_id) DO UPDATE SET
        name = excluded.name,
        full_path_name = excluded.full_path_name,
        parent_id = excluded.parent_id,
        time_stamp = excluded.time_stamp,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (t.time_stamp IS NULL OR excluded.time_stamp IS NULL OR t.time_stamp <= excluded.time_stamp)
      AND (
            t.name, t.full_path_name, t.parent_id, t.time_stamp, t.raw
        ) IS DISTINCT FROM (
            excluded.name, excluded.full_path_name, excluded.parent_id, excluded.time_stamp,
            excluded.raw
        )
    RETURNING t.category_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
