-- Every person's totals, counters and periods as the plan computed them,
-- for rows that exist: a plain UPDATE fires no insert trigger and makes no
-- speculative insertion, unlike INSERT ... ON CONFLICT. One array per
-- column, in the order of v's columns.
UPDATE user_points p
   SET total_points = v.total_points,
       total_reached_at = v.total_reached_at,
       capped_points = v.capped_points,
       level = v.level,
       current_streak = v.current_streak,
       longest_streak = v.longest_streak,
       last_active_date = v.last_active_date,
       freezes_held = v.freezes_held,
       courses_completed = v.courses_completed,
       lessons_completed = v.lessons_completed,
       skills_acquired = v.skills_acquired,
       paths_completed = v.paths_completed,
       domains_mastered = v.domains_mastered,
       peers_helped = v.peers_helped,
       week_start = v.week_start,
       week_points = v.week_points,
       week_reached_at = v.week_reached_at,
       month_start = v.month_start,
       month_points = v.month_points,
       month_reached_at = v.month_reached_at,
       streak_zone = v.streak_zone
  FROM unnest($1::uuid[], $2::int8[], $3::timestamptz[], $4::int8[], $5::int4[], $6::int4[],
              $7::int4[], $8::date[], $9::int2[], $10::int4[], $11::int4[], $12::int4[],
              $13::int4[], $14::int4[], $15::int4[], $16::date[], $17::int8[],
              $18::timestamptz[], $19::date[], $20::int8[], $21::timestamptz[], $22::text[])
       AS v(user_id, total_points, total_reached_at, capped_points, level, current_streak,
            longest_streak, last_active_date, freezes_held, courses_completed,
            lessons_completed, skills_acquired, paths_completed, domains_mastered,
            peers_helped, week_start, week_points, week_reached_at, month_start,
            month_points, month_reached_at, streak_zone)
 WHERE p.user_id = v.user_id
