-- The location row comes from the chain config on every rebuild: the config is the truth.
INSERT INTO lightspeed_agg.location AS l
    (location_id, account_id, shop_id, time_zone, interval_minutes, opening_hours, label, updated_at)
VALUES
    (%(location_id)s, %(account_id)s, %(shop_id)s, %(time_zone)s, %(interval_minutes)s,
     %(opening_hours)s::jsonb, %(label)s, now())
ON CONFLICT (location_id) DO UPDATE
SET account_id       = excluded.account_id,
    shop_id          = excluded.shop_id,
    time_zone        = excluded.time_zone,
    interval_minutes = excluded.interval_minutes,
    opening_hours    = excluded.opening_hours,
    label            = excluded.label,
    updated_at       = excluded.updated_at
WHERE (l.account_id, l.shop_id, l.time_zone, l.interval_minutes, l.opening_hours, l.label)
      IS DISTINCT FROM
      (excluded.account_id, excluded.shop_id, excluded.time_zone, excluded.interval_minutes,
       excluded.opening_hours, excluded.label)
