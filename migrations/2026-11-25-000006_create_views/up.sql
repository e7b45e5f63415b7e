-- Materialized aggregates for leaderboards and skill demand, refreshed
-- CONCURRENTLY by jobs (each has the unique index that requires), and the
-- tenant-filtered views and functions through which the service reads them:
-- row-level security does not apply to materialized views.
--
-- Every time bucket is computed with an explicit zone (the organization's,
-- or UTC), never the session TimeZone, so a refresh gives the same rows
-- whoever runs it.

CREATE MATERIALIZED VIEW leaderboard_weekly AS
SELECT pt.organization_id,
       pt.user_id,
       date_trunc('week', pt.occurred_at AT TIME ZONE o.time_zone)::date AS period_start,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
  JOIN organizations o ON o.id = pt.organization_id
 WHERE pt.points_awarded > 0
   -- Coarse bound on the partition key, so only recent partitions are read.
   AND pt.occurred_at >= now() - interval '9 weeks'
   -- Exact bound: the current week and the 7 before it, each complete.
   AND date_trunc('week', pt.occurred_at AT TIME ZONE o.time_zone)
       >= date_trunc('week', now() AT TIME ZONE o.time_zone) - interval '7 weeks'
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW leaderboard_weekly IS 'Points per person and week (Monday 00:00 in the organization''s time zone), the current week and the 7 before. reached_at = last award in the period: the tie-break (earlier first). People with 0 points in a period have no row.';
-- Required by REFRESH ... CONCURRENTLY; also the lookup of one person's row.
CREATE UNIQUE INDEX leaderboard_weekly_key ON leaderboard_weekly (organization_id, period_start, user_id);
-- Board order (points desc, earlier reach, user id): top N by index scan,
-- rank as a count of the entries before one.
CREATE INDEX leaderboard_weekly_order ON leaderboard_weekly (organization_id, period_start, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW leaderboard_monthly AS
SELECT pt.organization_id,
       pt.user_id,
       date_trunc('month', pt.occurred_at AT TIME ZONE o.time_zone)::date AS period_start,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
  JOIN organizations o ON o.id = pt.organization_id
 WHERE pt.points_awarded > 0
   AND pt.occurred_at >= now() - interval '14 months'
   -- The current month and the 12 before it, each complete.
   AND date_trunc('month', pt.occurred_at AT TIME ZONE o.time_zone)
       >= date_trunc('month', now() AT TIME ZONE o.time_zone) - interval '12 months'
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW leaderboard_monthly IS 'Points per person and calendar month (organization''s time zone), the current month and the 12 before.';
-- Required by REFRESH ... CONCURRENTLY; one person's row.
CREATE UNIQUE INDEX leaderboard_monthly_key ON leaderboard_monthly (organization_id, period_start, user_id);
-- Board order.
CREATE INDEX leaderboard_monthly_order ON leaderboard_monthly (organization_id, period_start, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW leaderboard_all_time AS
SELECT pt.organization_id,
       pt.user_id,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
 WHERE pt.points_awarded > 0
 GROUP BY 1, 2;
COMMENT ON MATERIALIZED VIEW leaderboard_all_time IS 'All-time points per person (the live equivalent is user_points.total_points).';
-- Required by REFRESH ... CONCURRENTLY; one person's row.
CREATE UNIQUE INDEX leaderboard_all_time_key ON leaderboard_all_time (organization_id, user_id);
-- Board order.
CREATE INDEX leaderboard_all_time_order ON leaderboard_all_time (organization_id, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW skill_demand_aggregates AS
SELECT us.skill_id,
       us.organization_id,
       date_trunc('month', us.acquired_at AT TIME ZONE 'UTC')::date AS month,
       count(*)::bigint AS learner_count,
       count(*) FILTER (WHERE us.mastery_level >= 80)::bigint AS mastered_count,
       sum(us.mastery_level) AS mastery_sum,
       round(avg(us.mastery_level)::numeric, 2)::double precision AS avg_mastery
  FROM user_skills us
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW skill_demand_aggregates IS 'Skill demand by cohort: per skill, organization and UTC month in which learners took the skill up (user_skills.acquired_at), how many, how many of them have mastered it now (>= 80), and their current mastery. Cohorts do not move when re-assessed, so past months stay stable; mastery_sum lets platform figures be summed exactly across organizations.';
-- Required by REFRESH ... CONCURRENTLY.
CREATE UNIQUE INDEX skill_demand_aggregates_key ON skill_demand_aggregates (skill_id, organization_id, month);
-- An organization's demand over a range of months (tenant_skill_demand).
CREATE INDEX skill_demand_aggregates_org_month ON skill_demand_aggregates (organization_id, month);
-- Platform demand over a range of months (platform_skill_demand).
CREATE INDEX skill_demand_aggregates_month ON skill_demand_aggregates (month);

-- Tenant-filtered readers. They run with their owner's rights (not
-- security_invoker), so the runtime role is granted these views and never
-- the materialized views under them. Rows: the caller's organization
-- (stride.org_id, set per transaction), every organization for a platform
-- admin, nothing without identity. The leaderboard views also apply the
-- people's state at read time, not at refresh time: erased and deactivated
-- people are gone at once, and privacy is current. Hidden people are left
-- out, except the caller's own row (a hidden person still sees their rank);
-- display_name is only filled for public people, so names of anonymous ones
-- never leave the database. They read users and user_preferences as the view
-- owner: the owner must not be filtered by those tables' row-level security
-- (superuser, BYPASSRLS, or a policy for the owner role).
CREATE VIEW tenant_leaderboard_weekly AS
SELECT lb.organization_id, lb.user_id, lb.period_start, lb.points, lb.reached_at,
       coalesce(p.leaderboard_privacy, 'public') <> 'hidden' AS ranked,
       coalesce(p.leaderboard_privacy, 'public') AS leaderboard_privacy,
       CASE WHEN coalesce(p.leaderboard_privacy, 'public') = 'public' THEN u.full_name END AS display_name
  FROM leaderboard_weekly lb
  JOIN users u ON u.id = lb.user_id AND u.is_active
  LEFT JOIN user_preferences p ON p.user_id = lb.user_id
 WHERE (lb.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
        OR current_setting('stride.role', true) = 'platform_admin')
   AND (coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
        OR lb.user_id = nullif(current_setting('stride.user_id', true), '')::uuid);
COMMENT ON VIEW tenant_leaderboard_weekly IS 'leaderboard_weekly for the caller''s tenant, with current privacy applied (ranked = not hidden; display_name only for public people).';

CREATE VIEW tenant_leaderboard_monthly AS
SELECT lb.organization_id, lb.user_id, lb.period_start, lb.points, lb.reached_at,
       coalesce(p.leaderboard_privacy, 'public') <> 'hidden' AS ranked,
       coalesce(p.leaderboard_privacy, 'public') AS leaderboard_privacy,
       CASE WHEN coalesce(p.leaderboard_privacy, 'public') = 'public' THEN u.full_name END AS display_name
  FROM leaderboard_monthly lb
  JOIN users u ON u.id = lb.user_id AND u.is_active
  LEFT JOIN user_preferences p ON p.user_id = lb.user_id
 WHERE (lb.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
        OR current_setting('stride.role', true) = 'platform_admin')
   AND (coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
        OR lb.user_id = nullif(current_setting('stride.user_id', true), '')::uuid);
COMMENT ON VIEW tenant_leaderboard_monthly IS 'leaderboard_monthly for the caller''s tenant, with current privacy applied.';

CREATE VIEW tenant_leaderboard_all_time AS
SELECT lb.organization_id, lb.user_id, lb.points, lb.reached_at,
       coalesce(p.leaderboard_privacy, 'public') <> 'hidden' AS ranked,
       coalesce(p.leaderboard_privacy, 'public') AS leaderboard_privacy,
       CASE WHEN coalesce(p.leaderboard_privacy, 'public') = 'public' THEN u.full_name END AS display_name
  FROM leaderboard_all_time lb
  JOIN users u ON u.id = lb.user_id AND u.is_active
  LEFT JOIN user_preferences p ON p.user_id = lb.user_id
 WHERE (lb.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
        OR current_setting('stride.role', true) = 'platform_admin')
   AND (coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
        OR lb.user_id = nullif(current_setting('stride.user_id', true), '')::uuid);
COMMENT ON VIEW tenant_leaderboard_all_time IS 'leaderboard_all_time for the caller''s tenant, with current privacy applied.';

CREATE VIEW tenant_skill_demand AS
SELECT skill_id, organization_id, month, learner_count, mastered_count, avg_mastery
  FROM skill_demand_aggregates
 WHERE organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
COMMENT ON VIEW tenant_skill_demand IS 'skill_demand_aggregates of the caller''s organization (platform admins: all). Counts are raw: the service suppresses groups under 10.';

CREATE VIEW platform_skill_demand AS
SELECT d.skill_id,
       d.month,
       sum(d.learner_count) < 10 AS suppressed,
       CASE WHEN sum(d.learner_count) >= 10 THEN sum(d.learner_count)::bigint END AS learner_count,
       CASE WHEN sum(d.learner_count) >= 10 THEN sum(d.mastered_count)::bigint END AS mastered_count,
       CASE WHEN sum(d.learner_count) >= 10
            THEN round((sum(d.mastery_sum) / sum(d.learner_count))::numeric, 2)::double precision END AS avg_mastery
  FROM skill_demand_aggregates d
  JOIN skills s ON s.id = d.skill_id AND s.organization_id IS NULL
 GROUP BY d.skill_id, d.month;
COMMENT ON VIEW platform_skill_demand IS 'Platform skill demand (comparison analytics): platform-wide skills summed over all organizations per month. Readable by every role, so k-anonymity is applied here too: a cohort under 10 learners is marked suppressed and carries neither its count nor its values.';

-- One page of an organization's board for a period, in board order (points
-- desc, earlier reach first, then user id), ranked people only; the
-- caller's own row (even hidden) and rank counts come from the tenant views.
-- period: 'week' | 'month' | 'all_time' (period_start ignored); any other
-- value returns no rows. A plain SQL function (not SECURITY DEFINER): it
-- adds no rights, the tenant filter of the views still applies, and it
-- inlines into the caller's query. Each branch carries its own ORDER BY and
-- LIMIT so that it is read in index order and stops after the page (a
-- UNION ALL of joins sorted only outside would read and sort the whole
-- board).
CREATE FUNCTION leaderboard_rows(p_org uuid, p_period text, p_period_start date,
                                 p_limit integer DEFAULT 10, p_offset integer DEFAULT 0)
RETURNS TABLE (user_id uuid, points bigint, reached_at timestamptz,
               leaderboard_privacy text, display_name text)
LANGUAGE sql STABLE
AS $$
    SELECT b.user_id, b.points, b.reached_at, b.leaderboard_privacy, b.display_name
      FROM (
        (SELECT w.user_id, w.points, w.reached_at, w.leaderboard_privacy, w.display_name
           FROM tenant_leaderboard_weekly w
          WHERE p_period = 'week' AND w.organization_id = p_org AND w.period_start = p_period_start AND w.ranked
          ORDER BY w.points DESC, w.reached_at, w.user_id
          LIMIT p_limit OFFSET p_offset)
        UNION ALL
        (SELECT m.user_id, m.points, m.reached_at, m.leaderboard_privacy, m.display_name
           FROM tenant_leaderboard_monthly m
          WHERE p_period = 'month' AND m.organization_id = p_org AND m.period_start = p_period_start AND m.ranked
          ORDER BY m.points DESC, m.reached_at, m.user_id
          LIMIT p_limit OFFSET p_offset)
        UNION ALL
        (SELECT a.user_id, a.points, a.reached_at, a.leaderboard_privacy, a.display_name
           FROM tenant_leaderboard_all_time a
          WHERE p_period = 'all_time' AND a.organization_id = p_org AND a.ranked
          ORDER BY a.points DESC, a.reached_at, a.user_id
          LIMIT p_limit OFFSET p_offset)
      ) b
     ORDER BY b.points DESC, b.reached_at, b.user_id
$$;
COMMENT ON FUNCTION leaderboard_rows(uuid, text, date, integer, integer) IS 'One page of an organization''s leaderboard (week | month | all_time) in board order, ranked people only, read through the tenant views.';
