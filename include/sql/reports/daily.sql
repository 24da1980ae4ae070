-- One row per location and local date with the day's sums and KPIs (dashboard side panels).
SELECT location_id, local_date, sales, transactions, items, staff_hours,
       atv, upt, sales_per_staff_hour, traffic_in, conversion_pct, sales_per_shopper, star
FROM lightspeed_agg.daily_report(%(date_from)s, %(date_to)s, %(locations)s::text[])
ORDER BY location_id, local_date
