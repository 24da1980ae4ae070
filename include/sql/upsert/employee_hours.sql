-- Time-clock entries of one run (no timestamp: the newest read wins). extracted_at of a closed
-- shift is not a change: only an open shift counts up to it, so only then is it rewritten.
-- Returns: rows changed, and the business-time span they covered before or after the change.
WITH
old AS (
    SELECT t.employee_hours_id, t.check_in, t.check_out, t.extracted_at
    FROM lightspeed_staging.employee_hours AS t
    JOIN src_employee_hours AS s USING (account_id, employee_hours_id)
),
changed AS (
    INSERT INTO lightspeed_staging.employee_hours AS t (
        account_id, employee_hours_id, employee_id, shop_id, check_in, check_out, extracted_at,
        raw, run_id, loaded_at
    )
    SELECT
        account_id, employee_hours_id, employee_id, shop_id, check_in, check_out, extracted_at,
        raw, %(run_id)s, now()
    FROM src_employee_hours
    ON CONFLICT (account_id, employee_hours_id) DO UPDATE SET
        employee_id = excluded.employee_id,
        shop_id = excluded.shop_id,
        check_in = excluded.check_in,
        check_out = excluded.check_out,
        extracted_at = excluded.extracted_at,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE ((
            t.employee_id, t.shop_id, t.check_in, t.check_out, t.raw
        ) IS DISTINCT FROM (
            excluded.employee_id, excluded.shop_id, excluded.check_in, excluded.check_out,
            excluded.raw
        )
        OR (excluded.check_out IS NULL AND t.extracted_at <> excluded.extracted_at))
    RETURNING t.employee_hours_id, t.check_in, t.check_out, t.extracted_at
)
SELECT
    count(*),
    min(least(c.check_in, o.check_in)),
    max(greatest(coalesce(c.check_out, c.extracted_at), coalesce(o.check_out, o.extracted_at)))
FROM changed AS c
LEFT JOIN old AS o USING (employee_hours_id);
