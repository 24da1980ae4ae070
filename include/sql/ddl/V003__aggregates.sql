-- Aggregates in the T.M.A.S. shape: one row per location and local wall-clock bucket.
-- Buckets are wall-clock times in the shop's zone: on the autumn DST change the repeated hour is
-- ONE row whose utc_ranges holds both UTC stretches; in spring the skipped hour has no row.
-- interval_metrics is rebuilt per local day by lightspeed.aggregates.rebuild (delete + insert);
-- roll-ups and KPIs are computed from sums at read time, never averaged from ratios.
CREATE SCHEMA IF NOT EXISTS lightspeed_agg;

-- One row per T.M.A.S. location, upserted from the chain config on every rebuild.
CREATE TABLE lightspeed_agg.location (
    location_id       text        PRIMARY KEY,
    account_id        bigint      NOT NULL,
    shop_id           bigint      NOT NULL,
    time_zone         text        NOT NULL,
    interval_minutes  integer     NOT NULL CHECK (interval_minutes IN (15, 60)),
    -- {"0": ["09:00", "18:00"], ...}: weekday 0 = Monday, local times; NULL = open all day.
    opening_hours     jsonb,
    label             text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Rows exist for every bucket inside opening hours (zeros when idle) and for any bucket outside
-- them that has activity, so the export always adds up to the Totaling.
CREATE TABLE lightspeed_agg.interval_metrics (
    location_id       text           NOT NULL REFERENCES lightspeed_agg.location ON DELETE CASCADE,
    interval_minutes  integer        NOT NULL,
    local_start       timestamp      NOT NULL,
    local_date        date           NOT NULL,
    utc_start         timestamptz    NOT NULL,
    utc_ranges        tstzmultirange NOT NULL,
    in_opening_hours  boolean        NOT NULL,
    sales             numeric        NOT NULL,
    transactions      integer        NOT NULL,
    items             numeric        NOT NULL,
    -- Seconds on the clock stay exact; hours are derived so roll-ups never sum rounded values.
    staff_seconds     numeric        NOT NULL,
    staff_hours       numeric        GENERATED ALWAYS AS (staff_seconds / 3600) STORED,
    rebuilt_at        timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, interval_minutes, local_start)
);
CREATE INDEX interval_metrics_location_date ON lightspeed_agg.interval_metrics (location_id, local_date);

-- People-counter visitors per sensor interval; interval_start is the UTC instant it began.
CREATE TABLE lightspeed_agg.traffic (
    location_id       text        NOT NULL REFERENCES lightspeed_agg.location ON DELETE CASCADE,
    interval_start    timestamptz NOT NULL,
    interval_minutes  integer     NOT NULL CHECK (interval_minutes > 0),
    visitors_in       integer     NOT NULL CHECK (visitors_in >= 0),
    visitors_out      integer     NOT NULL CHECK (visitors_out >= 0),
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, interval_start, interval_minutes)
);

-- num / den, NULL when den is 0 or NULL: a KPI with no denominator is empty, not an error.
CREATE FUNCTION lightspeed_agg.ratio(num numeric, den numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT num / NULLIF(den, 0) $$;

-- Hourly roll-up (15-minute shops sum their quarters; hourly shops pass through).
CREATE VIEW lightspeed_agg.hourly_metrics AS
SELECT location_id,
       local_date,
       date_trunc('hour', local_start) AS local_start,
       bool_or(in_opening_hours)       AS in_opening_hours,
       sum(sales)                      AS sales,
       sum(transactions)               AS transactions,
       sum(items)                      AS items,
       sum(staff_seconds) / 3600       AS staff_hours
FROM lightspeed_agg.interval_metrics
GROUP BY location_id, local_date, date_trunc('hour', local_start);

CREATE VIEW lightspeed_agg.daily_metrics AS
SELECT location_id,
       local_date,
       sum(sales)                AS sales,
       sum(transactions)         AS transactions,
       sum(items)                AS items,
       sum(staff_seconds) / 3600 AS staff_hours
FROM lightspeed_agg.interval_metrics
GROUP BY location_id, local_date;

-- The native buckets of the locations and local dates asked for, joined with traffic binned to
-- the same wall-clock buckets. traffic_* sums cover only buckets that have counts, so
-- conversion, sales per shopper and STAR never mix counted and uncounted intervals.
-- has_metrics is false for a bucket that only has traffic (outside opening hours, idle).
CREATE FUNCTION lightspeed_agg.interval_report(p_from date, p_to date, p_locations text[] DEFAULT NULL)
RETURNS TABLE (
    location_id text, interval_minutes integer, local_date date, local_start timestamp,
    has_metrics boolean, in_opening_hours boolean,
    sales numeric, transactions bigint, items numeric, staff_seconds numeric,
    traffic_in bigint, traffic_out bigint,
    traffic_sales numeric, traffic_transactions bigint, traffic_staff_seconds numeric
)
LANGUAGE sql STABLE AS $$
WITH loc AS (
    SELECT l.location_id, l.time_zone, l.interval_minutes
    FROM lightspeed_agg.location l
    WHERE p_locations IS NULL OR l.location_id = ANY (p_locations)
),
m AS (
    SELECT im.*
    FROM lightspeed_agg.interval_metrics im
    JOIN loc ON loc.location_id = im.location_id
    WHERE im.local_date BETWEEN p_from AND p_to
),
t AS (
    SELECT tr.location_id,
           loc.interval_minutes,
           date_bin(make_interval(mins => loc.interval_minutes),
                    tr.interval_start AT TIME ZONE loc.time_zone,
                    TIMESTAMP '2000-01-01') AS local_start,
           sum(tr.visitors_in)::bigint  AS visitors_in,
           sum(tr.visitors_out)::bigint AS visitors_out
    FROM lightspeed_agg.traffic tr
    JOIN loc ON loc.location_id = tr.location_id
    -- No zone is more than a day from UTC: a margin keeps the primary-key index usable.
    WHERE tr.interval_start >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
      AND tr.interval_start <  (p_to + 2)::timestamp AT TIME ZONE 'UTC'
      AND tr.interval_minutes <= loc.interval_minutes
    GROUP BY 1, 2, 3
)
SELECT coalesce(m.location_id, t.location_id),
       coalesce(m.interval_minutes, t.interval_minutes),
       coalesce(m.local_start, t.local_start)::date,
       coalesce(m.local_start, t.local_start),
       m.location_id IS NOT NULL,
       coalesce(m.in_opening_hours, false),
       coalesce(m.sales, 0),
       coalesce(m.transactions, 0)::bigint,
       coalesce(m.items, 0),
       coalesce(m.staff_seconds, 0),
       t.visitors_in,
       t.visitors_out,
       CASE WHEN t.location_id IS NULL THEN 0 ELSE coalesce(m.sales, 0) END,
       CASE WHEN t.location_id IS NULL THEN 0 ELSE coalesce(m.transactions, 0) END::bigint,
       CASE WHEN t.location_id IS NULL THEN 0 ELSE coalesce(m.staff_seconds, 0) END
FROM m
FULL JOIN t
  ON t.location_id = m.location_id
 AND t.interval_minutes = m.interval_minutes
 AND t.local_start = m.local_start
WHERE coalesce(m.local_start, t.local_start)::date BETWEEN p_from AND p_to
$$;

-- Hourly rows of interval_report with every KPI computed from the hour's sums.
CREATE FUNCTION lightspeed_agg.hourly_report(p_from date, p_to date, p_locations text[] DEFAULT NULL)
RETURNS TABLE (
    location_id text, local_date date, local_start timestamp,
    has_metrics boolean, in_opening_hours boolean,
    sales numeric, transactions bigint, items numeric, staff_hours numeric,
    traffic_in bigint, traffic_out bigint,
    atv numeric, upt numeric, sales_per_staff_hour numeric,
    conversion_pct numeric, sales_per_shopper numeric, star numeric
)
LANGUAGE sql STABLE AS $$
WITH h AS (
    SELECT r.location_id, r.local_date, date_trunc('hour', r.local_start) AS local_start,
           bool_or(r.has_metrics) AS has_metrics,
           bool_or(r.in_opening_hours) AS in_opening_hours,
           sum(r.sales) AS sales, sum(r.transactions)::bigint AS transactions,
           sum(r.items) AS items, sum(r.staff_seconds) / 3600 AS staff_hours,
           sum(r.traffic_in)::bigint AS traffic_in, sum(r.traffic_out)::bigint AS traffic_out,
           sum(r.traffic_sales) AS traffic_sales,
           sum(r.traffic_transactions) AS traffic_transactions,
           sum(r.traffic_staff_seconds) / 3600 AS traffic_staff_hours
    FROM lightspeed_agg.interval_report(p_from, p_to, p_locations) r
    GROUP BY 1, 2, 3
)
SELECT location_id, local_date, local_start, has_metrics, in_opening_hours,
       sales, transactions, items, staff_hours, traffic_in, traffic_out,
       lightspeed_agg.ratio(sales, transactions),
       lightspeed_agg.ratio(items, transactions),
       lightspeed_agg.ratio(sales, staff_hours),
       100 * lightspeed_agg.ratio(traffic_transactions, traffic_in),
       lightspeed_agg.ratio(traffic_sales, traffic_in),
       lightspeed_agg.ratio(traffic_in, traffic_staff_hours)
FROM h
$$;

-- Daily rows per location with the same KPIs; the Totaling sums these over a date range.
CREATE FUNCTION lightspeed_agg.daily_report(p_from date, p_to date, p_locations text[] DEFAULT NULL)
RETURNS TABLE (
    location_id text, local_date date,
    sales numeric, transactions bigint, items numeric, staff_hours numeric,
    traffic_in bigint, traffic_out bigint,
    traffic_sales numeric, traffic_transactions bigint, traffic_staff_hours numeric,
    atv numeric, upt numeric, sales_per_staff_hour numeric,
    conversion_pct numeric, sales_per_shopper numeric, star numeric
)
LANGUAGE sql STABLE AS $$
WITH d AS (
    SELECT r.location_id, r.local_date,
           sum(r.sales) AS sales, sum(r.transactions)::bigint AS transactions,
           sum(r.items) AS items, sum(r.staff_seconds) / 3600 AS staff_hours,
           sum(r.traffic_in)::bigint AS traffic_in, sum(r.traffic_out)::bigint AS traffic_out,
           sum(r.traffic_sales) AS traffic_sales,
           sum(r.traffic_transactions)::bigint AS traffic_transactions,
           sum(r.traffic_staff_seconds) / 3600 AS traffic_staff_hours
    FROM lightspeed_agg.interval_report(p_from, p_to, p_locations) r
    GROUP BY 1, 2
)
SELECT location_id, local_date, sales, transactions, items, staff_hours,
       traffic_in, traffic_out, traffic_sales, traffic_transactions, traffic_staff_hours,
       lightspeed_agg.ratio(sales, transactions),
       lightspeed_agg.ratio(items, transactions),
       lightspeed_agg.ratio(sales, staff_hours),
       100 * lightspeed_agg.ratio(traffic_transactions, traffic_in),
       lightspeed_agg.ratio(traffic_sales, traffic_in),
       lightspeed_agg.ratio(traffic_in, traffic_staff_hours)
FROM d
$$;
