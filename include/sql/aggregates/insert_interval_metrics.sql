-- All buckets of the local days [date_from, date_to] of one location, set-based.
-- The days are cut into 15-minute UTC slices (every zone offset in use is a multiple of 15
-- minutes); each slice is binned by its wall-clock time, so a repeated autumn hour gathers two
-- UTC stretches in one bucket and a skipped spring hour gets no slice at all.
WITH days AS (
    SELECT d AT TIME ZONE %(time_zone)s                      AS utc_start,
           (d + interval '1 day') AT TIME ZONE %(time_zone)s AS utc_end
    FROM generate_series(%(date_from)s::timestamp, %(date_to)s::timestamp, interval '1 day') AS d
),
slices AS (
    SELECT s                                AS slice_start,
           s + interval '15 minutes'        AS slice_end,
           date_bin(make_interval(mins => %(interval_minutes)s),
                    s AT TIME ZONE %(time_zone)s,
                    TIMESTAMP '2000-01-01') AS local_start
    FROM days,
         generate_series(days.utc_start, days.utc_end - interval '15 minutes',
                         interval '15 minutes') AS s
),
buckets AS (
    SELECT local_start,
           min(slice_start)                             AS utc_start,
           range_agg(tstzrange(slice_start, slice_end)) AS utc_ranges
    FROM slices
    GROUP BY local_start
),
sales AS (
    SELECT s.sale_id,
           date_bin(make_interval(mins => %(interval_minutes)s),
                    s.complete_time AT TIME ZONE %(time_zone)s,
                    TIMESTAMP '2000-01-01') AS local_start,
           s.calc_subtotal - s.calc_discount
             + CASE WHEN %(include_tax)s THEN s.calc_tax1 + s.calc_tax2 ELSE 0 END AS amount,
           s.calc_total
    FROM lightspeed_staging.sale s
    WHERE s.account_id = %(account_id)s
      AND s.shop_id = %(shop_id)s
      AND s.complete_time >= %(date_from)s::timestamp AT TIME ZONE %(time_zone)s
      AND s.complete_time < (%(date_to)s::timestamp + interval '1 day') AT TIME ZONE %(time_zone)s
      AND s.completed AND NOT s.voided AND NOT s.archived
),
sales_by_bucket AS (
    SELECT local_start,
           sum(amount) AS sales,
           count(*) FILTER (WHERE calc_total > 0 OR (%(count_zero_total)s AND calc_total = 0))
             AS transactions
    FROM sales
    GROUP BY local_start
),
items_by_bucket AS (
    SELECT sa.local_start, sum(sl.unit_quantity) AS items
    FROM sales sa
    JOIN lightspeed_staging.sale_line sl
      ON sl.account_id = %(account_id)s AND sl.sale_id = sa.sale_id
    WHERE sl.line_type NOT IN ('item_fee', 'item_fee_refund')
    GROUP BY sa.local_start
),
shifts AS (
    -- An open shift counts up to the API clock at the time it was read.
    SELECT h.check_in, coalesce(h.check_out, h.extracted_at) AS check_out
    FROM lightspeed_staging.employee_hours h
    WHERE h.account_id = %(account_id)s
      AND h.shop_id = %(shop_id)s
      AND h.check_in < (%(date_to)s::timestamp + interval '1 day') AT TIME ZONE %(time_zone)s
      AND coalesce(h.check_out, h.extracted_at) > %(date_from)s::timestamp AT TIME ZONE %(time_zone)s
      AND coalesce(h.check_out, h.extracted_at) > h.check_in
),
shift_slices AS (
    -- Each shift is cut at the 15-minute UTC edges it spans (every slice starts on one), so
    -- the work grows with the hours worked, not with days x shifts.
    SELECT sh.check_in, sh.check_out, g AS slice_start
    FROM shifts sh,
         generate_series(
             date_bin(interval '15 minutes',
                      greatest(sh.check_in, %(date_from)s::timestamp AT TIME ZONE %(time_zone)s),
                      TIMESTAMPTZ '2000-01-01 00:00:00+00'),
             least(sh.check_out,
                   (%(date_to)s::timestamp + interval '1 day') AT TIME ZONE %(time_zone)s)
               - interval '1 microsecond',
             interval '15 minutes') AS g
),
staff_by_bucket AS (
    SELECT sl.local_start,
           sum(extract(epoch FROM least(sl.slice_end, ss.check_out)
                                  - greatest(sl.slice_start, ss.check_in))) AS seconds
    FROM shift_slices ss
    JOIN slices sl ON sl.slice_start = ss.slice_start
    GROUP BY sl.local_start
),
rows AS (
    SELECT b.local_start, b.utc_start, b.utc_ranges,
           %(open_slots)s::int[] IS NULL
             OR ((extract(isodow FROM b.local_start)::int - 1) * 1440
                 + extract(hour FROM b.local_start)::int * 60
                 + extract(minute FROM b.local_start)::int) = ANY (%(open_slots)s::int[])
             AS in_opening_hours,
           sa.local_start IS NOT NULL OR it.local_start IS NOT NULL OR st.local_start IS NOT NULL
             AS active,
           coalesce(sa.sales, 0)        AS sales,
           coalesce(sa.transactions, 0) AS transactions,
           coalesce(it.items, 0)        AS items,
           coalesce(st.seconds, 0)      AS staff_seconds
    FROM buckets b
    LEFT JOIN sales_by_bucket sa ON sa.local_start = b.local_start
    LEFT JOIN items_by_bucket it ON it.local_start = b.local_start
    LEFT JOIN staff_by_bucket st ON st.local_start = b.local_start
)
INSERT INTO lightspeed_agg.interval_metrics
    (location_id, interval_minutes, local_start, local_date, utc_start, utc_ranges,
     in_opening_hours, sales, transactions, items, staff_seconds)
SELECT %(location_id)s, %(interval_minutes)s, local_start, local_start::date, utc_start, utc_ranges,
       in_opening_hours, sales, transactions, items, staff_seconds
FROM rows
WHERE in_opening_hours OR active
