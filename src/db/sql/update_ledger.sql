-- Moves and re-splits ledger rows: ($1 id, $2 stored occurred_at) -> ($3
-- occurred_at, $4 local_date, $5 awarded, $6 capped). The stored time
-- names the partition (also as a plain ANY, so the planner prunes the
-- others); a new time moves the row.
UPDATE point_transactions pt
   SET occurred_at = v.occurred_at,
       local_date = v.local_date,
       points_awarded = v.awarded,
       points_capped = v.capped
  FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::date[], $5::int4[], $6::int4[])
       AS v(id, stored_at, occurred_at, local_date, awarded, capped)
 WHERE pt.id = v.id AND pt.occurred_at = v.stored_at
   AND pt.occurred_at = ANY($2::timestamptz[])
