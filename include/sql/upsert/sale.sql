-- Sales of one run: the newest version of each sale wins (time_stamp); a sale whose
-- content did not change is not rewritten, so run_id/loaded_at name the run that last changed it.
-- Returns: rows changed, and the business-time span they covered before or after the change.
WITH
old AS (
    SELECT t.sale_id, t.complete_time
    FROM lightspeed_staging.sale AS t
    JOIN src_sale AS s USING (account_id, sale_id)
),
changed AS (
    INSERT INTO lightspeed_staging.sale AS t (
        account_id, sale_id, shop_id, register_id, employee_id, customer_id, completed, voided,
        archived, create_time, complete_time, update_time, time_stamp, calc_subtotal,
        calc_discount, calc_tax1, calc_tax2, calc_total, total, raw, run_id, loaded_at
    )
    SELECT
        account_id, sale_id, shop_id, register_id, employee_id, customer_id, completed, voided,
        archived, create_time, complete_time, update_time, time_stamp, calc_subtotal,
        calc_discount, calc_tax1, calc_tax2, calc_total, total, raw, %(run_id)s, now()
    FROM src_sale
    ON CONFLICT (account_id, sale_id) DO UPDATE SET
        shop_id = excluded.shop_id,
        register_id = excluded.register_id,
        employee_id = excluded.employee_id,
        customer_id = excluded.customer_id,
        completed = excluded.completed,
        voided = excluded.voided,
        archived = excluded.archived,
        create_time = excluded.create_time,
        complete_time = excluded.complete_time,
        update_time = excluded.update_time,
        time_stamp = excluded.time_stamp,
        calc_subtotal = excluded.calc_subtotal,
        calc_discount = excluded.calc_discount,
        calc_tax1 = excluded.calc_tax1,
        calc_tax2 = excluded.calc_tax2,
        calc_total = excluded.calc_total,
        total = excluded.total,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE t.time_stamp <= excluded.time_stamp
      AND (
            t.shop_id, t.register_id, t.employee_id, t.customer_id, t.completed, t.voided,
            t.archived, t.create_time, t.complete_time, t.update_time, t.time_stamp,
            t.calc_subtotal, t.calc_discount, t.calc_tax1, t.calc_tax2, t.calc_total, t.total,
            t.raw
        ) IS DISTINCT FROM (
            excluded.shop_id, excluded.register_id, excluded.employee_id, excluded.customer_id,
            excluded.completed, excluded.voided, excluded.archived, excluded.create_time,
            excluded.complete_time, excluded.update_time, excluded.time_stamp,
            excluded.calc_subtotal, excluded.calc_discount, excluded.calc_tax1,
            excluded.calc_tax2, excluded.calc_total, excluded.total, excluded.raw
        )
    RETURNING t.sale_id, t.complete_time
)
SELECT
    count(*),
    min(least(c.complete_time, o.complete_time)),
    max(greatest(c.complete_time, o.complete_time))
FROM changed AS c
LEFT JOIN old AS o USING (sale_id);
