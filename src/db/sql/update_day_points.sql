-- A person's points of a local day after the cap: ($1 user, $2 day) ->
-- ($3 awarded, $4 capped).
UPDATE daily_activity d
   SET points_awarded = v.awarded,
       points_capped = v.capped
  FROM unnest($1::uuid[], $2::date[], $3::int4[], $4::int4[]) AS v(user_id, local_date, awarded, capped)
 WHERE d.user_id = v.user_id AND d.local_date = v.local_date
   AND d.local_date = ANY($2::date[])  -- lets the planner prune partitions
