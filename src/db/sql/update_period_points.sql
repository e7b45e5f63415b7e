-- From the ledger as written: each person's ($1) points since the start
-- of the current week ($2) and month ($3) with the latest award in each.
-- $4, the earliest of those starts, lets the planner skip older months.
UPDATE user_points up
   SET week_points = coalesce(p.week_points, 0),
       week_reached_at = p.week_reached_at,
       month_points = coalesce(p.month_points, 0),
       month_reached_at = p.month_reached_at
  FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS v(user_id, week_from, month_from)
  LEFT JOIN LATERAL (
        SELECT sum(pt.points_awarded) FILTER (WHERE pt.occurred_at >= v.week_from) AS week_points,
               max(pt.occurred_at) FILTER (WHERE pt.occurred_at >= v.week_from AND pt.points_awarded > 0) AS week_reached_at,
               sum(pt.points_awarded) FILTER (WHERE pt.occurred_at >= v.month_from) AS month_points,
               max(pt.occurred_at) FILTER (WHERE pt.occurred_at >= v.month_from AND pt.points_awarded > 0) AS month_reached_at
          FROM point_transactions pt
         WHERE pt.user_id = v.user_id
           AND pt.occurred_at >= least(v.week_from, v.month_from)
           AND pt.occurred_at >= $4::timestamptz) p ON true
 WHERE up.user_id = v.user_id
