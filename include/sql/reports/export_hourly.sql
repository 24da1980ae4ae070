-- Data Export, hourly grain: every hour inside opening hours (zeros when idle) and every hour
-- outside them that has activity, unless only opening hours are asked for.
SELECT location_id, local_date, local_start, sales, transactions, items, staff_hours
FROM lightspeed_agg.hourly_report(%(date_from)s, %(date_to)s, %(locations)s::text[])
WHERE has_metrics
  AND (in_opening_hours OR NOT %(opening_hours_only)s)
ORDER BY location_id, local_start
