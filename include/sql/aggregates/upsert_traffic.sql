-- People-counter rows (execute_values fills VALUES); a row that did not change is not touched.
-- RETURNING tells inserts (xmax = 0) from updates.
INSERT INTO lightspeed_agg.traffic AS t
    (location_id, interval_start, interval_minutes, visitors_in, visitors_out)
VALUES %s
ON CONFLICT (location_id, interval_start, interval_minutes) DO UPDATE
SET visitors_in  = excluded.visitors_in,
    visitors_out = excluded.visitors_out,
    loaded_at    = now()
WHERE (t.visitors_in, t.visitors_out) IS DISTINCT FROM (excluded.visitors_in, excluded.visitors_out)
RETURNING (xmax = 0) AS inserted
