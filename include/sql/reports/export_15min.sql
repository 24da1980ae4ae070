-- Data Export, 15-minute grain: the native buckets of 15-minute (3D Scope) locations.
SELECT location_id, local_date, local_start, sales, transactions, items,
       staff_seconds / 3600 AS staff_hours
FROM lightspeed_agg.interval_report(%(date_from)s, %(date_to)s, %(locations)s::text[])
WHERE has_metrics
  AND interval_minutes = 15
  AND (in_opening_hours OR NOT %(opening_hours_only)s)
ORDER BY location_id, local_start
