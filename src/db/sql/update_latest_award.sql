-- The latest award that pays, of all time, for people ($1) whose latest
-- row the batch changed (the tie-break of the all-time board). Rare: a
-- batch usually knows it without reading every month of the ledger.
UPDATE user_points up
   SET total_reached_at = (SELECT max(pt.occurred_at)
                             FROM point_transactions pt
                            WHERE pt.user_id = up.user_id AND pt.points_awarded > 0)
 WHERE up.user_id = ANY($1::uuid[])
