-- Native buckets with traffic, for the dashboard charts.
SELECT location_id, local_date, local_start, interval_minutes, in_opening_hours,
       sales, transactions, items, staff_seconds / 3600 AS staff_hours, traffic_in
FROM lightspeed_agg.interval_report(%(date_from)s, %(date_to)s, %(locations)s::text[])
ORDER BY location_id, local_start
