-- Employees of one run: the newest version wins (time_stamp); unchanged rows are not rewritten.
-- Returns: rows changed (no business time: the two NULLs keep every upsert's shape).
WITH
changed AS (
    INSERT INTO lightspeed_staging.employee AS t (
        account_id, employee_id, first_name, last_name, archived, lock_out, time_stamp, raw,
        run_id, loaded_at
    )
    SELECT
        account_id, employee_id, first_name, last_name, archived, lock_out, time_stamp, raw,
        %(run_id)s, now()
    FROM src_employee
    ON CONFLICT (account_id, employee_id) DO UPDATE SET
        first_name = excluded.first_name,
        last_name = excluded.last_name,
        archived = excluded.archived,
        lock_out = excluded.lock_out,
        time_stamp = excluded.time_stamp,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (t.time_stamp IS NULL OR excluded.time_stamp IS NULL OR t.time_stamp <= excluded.time_stamp)
      AND (
            t.first_name, t.last_name, t.archived, t.lock_out, t.time_stamp, t.raw
        ) IS DISTINCT FROM (
            excluded.first_name, excluded.last_name, excluded.archived, excluded.lock_out,
            excluded.time_stamp, excluded.raw
        )
    RETURNING t.employee_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
