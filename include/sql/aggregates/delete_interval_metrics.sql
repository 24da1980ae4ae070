-- Every grain of the days being rebuilt goes, so a shop whose interval changed keeps one grain.
DELETE FROM lightspeed_agg.interval_metrics
WHERE location_id = %(location_id)s
  AND local_date BETWEEN %(date_from)s AND %(date_to)s
