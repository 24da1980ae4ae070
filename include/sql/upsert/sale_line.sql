-- Lines of the sales this run accepted (src_sale: newest version, not stale), taken from that
-- very version of the sale (_seq). Lines the sale no longer lists are deleted by load.py.
-- Returns: rows changed, and the business-time span of their parents.
WITH changed AS (
    INSERT INTO lightspeed_staging.sale_line AS t (
        account_id, sale_line_id, sale_id, shop_id, item_id, line_type, unit_quantity,
        unit_price, calc_subtotal, calc_line_discount, calc_transaction_discount, calc_total,
        parent_sale_line_id, is_layaway, time_stamp, raw, run_id, loaded_at
    )
    SELECT
        account_id, sale_line_id, sale_id, shop_id, item_id, line_type, unit_quantity,
        unit_price, calc_subtotal, calc_line_discount, calc_transaction_discount, calc_total,
        parent_sale_line_id, is_layaway, time_stamp, raw, %(run_id)s, now()
    FROM (
        SELECT DISTINCT ON (c.sale_line_id) c.*
        FROM tmp_sale_line AS c
        JOIN src_sale AS p ON p._seq = c._seq
        ORDER BY c.sale_line_id, c._seq DESC
    ) AS c
    ON CONFLICT (account_id, sale_line_id) DO UPDATE SET
        sale_id = excluded.sale_id,
        shop_id = excluded.shop_id,
        item_id = excluded.item_id,
        line_type = excluded.line_type,
        unit_quantity = excluded.unit_quantity,
        unit_price = excluded.unit_price,
        calc_subtotal = excluded.calc_subtotal,
        calc_line_discount = excluded.calc_line_discount,
        calc_transaction_discount = excluded.calc_transaction_discount,
        calc_total = excluded.calc_total,
        parent_sale_line_id = excluded.parent_sale_line_id,
        is_layaway = excluded.is_layaway,
        time_stamp = excluded.time_stamp,
        raw = excluded.raw,
        run_id = excluded.run_id,
        loaded_at = excluded.loaded_at
    WHERE (
        t.sale_id, t.shop_id, t.item_id, t.line_type, t.unit_quantity, t.unit_price,
        t.calc_subtotal, t.calc_line_discount, t.calc_transaction_discount, t.calc_total,
        t.parent_sale_line_id, t.is_layaway, t.time_stamp, t.raw
    ) IS DISTINCT FROM (
        excluded.sale_id, excluded.shop_id, excluded.item_id, excluded.line_type,
        excluded.unit_quantity, excluded.unit_price, excluded.calc_subtotal,
        excluded.calc_line_discount, excluded.calc_transaction_discount, excluded.calc_total,
        excluded.parent_sale_line_id, excluded.is_layaway, excluded.time_stamp, excluded.raw
    )
    RETURNING t.sale_id
)
SELECT count(*), min(x.complete_time), max(x.complete_time)
FROM changed AS c
LEFT JOIN lightspeed_staging.sale AS x
    ON x.account_id = %(account_id)s AND x.sale_id = c.sale_id;
