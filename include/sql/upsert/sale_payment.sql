-- Payments of the sales this run accepted, from that version of the sale (_seq). Payments the
-- sale no longer lists are deleted by load.py.
-- Returns: rows changed, and the business-time span of their parents.
WITH changed AS (
    INSERT INTO lightspeed_staging.sale_payment AS t (
        account_id, sale_payment_id, sale_id, payment_type_id, amount, tip_amount, archived,
        create_time, raw, run_id, loaded_at
    )
    SELECT
        account_id, sale_payment_id, sale_id, payment_type_id, amount, tip_amount, archived,
        create_time, raw, %(run_id)s, now()
    FROM (
        SELECT DISTINCT ON (c.sale_payment_id) c.*
        FROM tmp_sale_payment AS c
        JOIN src_sale AS p ON p._seq = c._seq
        ORDER BY c.sale_payment_id, c._seq DESC
    ) AS c
    ON CONFLICT (account_id, sale_payment_id) DO UPDATE SET
        sale_id = excluded.sale_id,
        payment_type_id = excluded.payment_type_id,
        amount = excluded.amount,
        tip_amount = excluded.tip_amount,
        archived = excluded.archived,
        create_time = excluded.create_time,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (
        t.sale_id, t.payment_type_id, t.amount, t.tip_amount, t.archived, t.create_time, t.raw
    ) IS DISTINCT FROM (
        excluded.sale_id, excluded.payment_type_id, excluded.amount, excluded.tip_amount,
        excluded.archived, excluded.create_time, excluded.raw
    )
    RETURNING t.sale_id
)
SELECT count(*), min(x.complete_time), max(x.complete_time)
FROM changed AS c
LEFT JOIN lightspeed_staging.sale AS x
    ON x.account_id = %(account_id)s AND x.sale_id = c.sale_id;
