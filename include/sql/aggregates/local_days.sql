-- The local business dates that a closed UTC range touches, in the shop's zone as PostgreSQL
-- knows it (the same zone rules the bucket SQL uses).
SELECT (%(utc_from)s::timestamptz AT TIME ZONE %(time_zone)s)::date AS date_from,
       (%(utc_to)s::timestamptz AT TIME ZONE %(time_zone)s)::date   AS date_to
