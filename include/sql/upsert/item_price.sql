-- Prices of the items this run accepted, from that version of the item (_seq). Price types the
-- item no longer lists are deleted by load.py.
-- Returns: rows changed (items have no business time: NULLs keep every upsert's shape).
WITH changed AS (
    INSERT INTO lightspeed_staging.item_price AS t (
        account_id, item_id, use_type_id, use_type, amount
    )
    SELECT
        account_id, item_id, use_type_id, use_type, amount
    FROM (
        SELECT DISTINCT ON (c.item_id, c.use_type_id) c.*
        FROM tmp_item_price AS c
        JOIN src_item AS p ON p._seq = c._seq
        ORDER BY c.item_id, c.use_type_id, c._seq DESC
    ) AS c
    ON CONFLICT (account_id, item_id, use_type_id) DO UPDATE SET
        use_type = excluded.use_type,
        amount = excluded.amount
    WHERE (
        t.use_type, t.amount
    ) IS DISTINCT FROM (
        excluded.use_type, excluded.amount
    )
    RETURNING t.item_id
)
SELECT count(*), NULL::timestamptz, NULL::timestamptz FROM changed;
