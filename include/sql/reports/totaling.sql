-- Totaling: per location and for the chain over local business dates [date_from, date_to].
-- Sums first, ratios last (KPIs of sums, never averages of daily ratios). Every requested
-- location gets a row, zeros included; traffic KPIs stay NULL where no counts were loaded.
WITH d AS (
    SELECT * FROM lightspeed_agg.daily_report(%(date_from)s, %(date_to)s, %(locations)s::text[])
),
sums AS (
    SELECT l.location_id,
           GROUPING(l.location_id) = 1       AS is_chain,
           min(l.label)                      AS label,
           coalesce(sum(d.sales), 0)         AS sales,
           coalesce(sum(d.transactions), 0)  AS transactions,
           coalesce(sum(d.items), 0)         AS items,
           coalesce(sum(d.staff_hours), 0)   AS staff_hours,
           sum(d.traffic_in)                 AS traffic_in,
           sum(d.traffic_sales)              AS traffic_sales,
           sum(d.traffic_transactions)       AS traffic_transactions,
           sum(d.traffic_staff_hours)        AS traffic_staff_hours
    FROM lightspeed_agg.location l
    LEFT JOIN d ON d.location_id = l.location_id
    WHERE l.location_id = ANY (%(locations)s::text[])
    GROUP BY GROUPING SETS ((l.location_id), ())
)
SELECT location_id, is_chain, label, sales, transactions, items, staff_hours,
       lightspeed_agg.ratio(sales, transactions)                     AS atv,
       lightspeed_agg.ratio(items, transactions)                     AS upt,
       lightspeed_agg.ratio(sales, staff_hours)                      AS sales_per_staff_hour,
       traffic_in,
       100 * lightspeed_agg.ratio(traffic_transactions, traffic_in) AS conversion_pct,
       lightspeed_agg.ratio(traffic_sales, traffic_in)               AS sales_per_shopper,
       lightspeed_agg.ratio(traffic_in, traffic_staff_hours)         AS star
FROM sums
ORDER BY is_chain, location_id
