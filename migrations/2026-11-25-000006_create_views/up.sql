-- Materialized aggregates for leaderboards and skill demand, refreshed
-- CONCURRENTLY by jobs (each needs a unique index for that), and the
-- tenant-filtered views through which the service reads them:
-- materialized views ignore row-level security.

CREATE MATERIALIZED VIEW leaderboard_weekly AS
SELECT pt.organization_id,
       pt.user_id,
       date_trunc('week', pt.occurred_at AT TIME ZONE o.time_zone)::date AS period_start,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
  JOIN organizations o ON o.id = pt.organization_id
 WHERE pt.occurred_at >= now() - interval '9 weeks'
   AND pt.points_awarded > 0
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW leaderboard_weekly IS 'Points per user and week (Monday start, organization time zone), last 8 full weeks; reached_at breaks ties (earlier first).';
-- Required by REFRESH ... CONCURRENTLY; also the lookup of one user''s row.
CREATE UNIQUE INDEX leaderboard_weekly_key ON leaderboard_weekly (organization_id, period_start, user_id);
-- Board order: points desc, earlier reach first, then user id.
CREATE INDEX leaderboard_weekly_order ON leaderboard_weekly (organization_id, period_start, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW leaderboard_monthly AS
SELECT pt.organization_id,
       pt.user_id,
       date_trunc('month', pt.occurred_at AT TIME ZONE o.time_zone)::date AS period_start,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
  JOIN organizations o ON o.id = pt.organization_id
 WHERE pt.occurred_at >= now() - interval '13 months'
   AND pt.points_awarded > 0
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW leaderboard_monthly IS 'Points per user and calendar month (organization time zone), last 13 months.';
CREATE UNIQUE INDEX leaderboard_monthly_key ON leaderboard_monthly (organization_id, period_start, user_id);
CREATE INDEX leaderboard_monthly_order ON leaderboard_monthly (organization_id, period_start, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW leaderboard_all_time AS
SELECT pt.organization_id,
       pt.user_id,
       sum(pt.points_awarded)::bigint AS points,
       max(pt.occurred_at) AS reached_at
  FROM point_transactions pt
 WHERE pt.points_awarded > 0
 GROUP BY 1, 2;
COMMENT ON MATERIALIZED VIEW leaderboard_all_time IS 'All-time points per user.';
CREATE UNIQUE INDEX leaderboard_all_time_key ON leaderboard_all_time (organization_id, user_id);
CREATE INDEX leaderboard_all_time_order ON leaderboard_all_time (organization_id, points DESC, reached_at, user_id);

CREATE MATERIALIZED VIEW skill_demand_aggregates AS
SELECT us.skill_id,
       us.organization_id,
       date_trunc('month', us.acquired_at)::date AS month,
       count(*)::bigint AS learner_count,
       count(*) FILTER (WHERE us.mastery_level >= 80)::bigint AS mastered_count,
       round(avg(us.mastery_level)::numeric, 2)::double precision AS avg_mastery
  FROM user_skills us
 GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW skill_demand_aggregates IS 'Learners per skill, organization and month the skill was acquired, with current mastery; platform figures sum over organizations.';
CREATE UNIQUE INDEX skill_demand_aggregates_key ON skill_demand_aggregates (skill_id, organization_id, month);
CREATE INDEX skill_demand_aggregates_month ON skill_demand_aggregates (month);

-- Tenant-filtered readers: rows of the caller''s organization (stride.org_id,
-- set per transaction), all rows for a platform admin, none without identity.
CREATE VIEW tenant_leaderboard_weekly AS
SELECT * FROM leaderboard_weekly
 WHERE organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
CREATE VIEW tenant_leaderboard_monthly AS
SELECT * FROM leaderboard_monthly
 WHERE organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
CREATE VIEW tenant_leaderboard_all_time AS
SELECT * FROM leaderboard_all_time
 WHERE organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
CREATE VIEW tenant_skill_demand AS
SELECT * FROM skill_demand_aggregates
 WHERE organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
COMMENT ON VIEW tenant_leaderboard_weekly IS 'leaderboard_weekly filtered to the caller''s tenant (materialized views ignore RLS).';
COMMENT ON VIEW tenant_leaderboard_monthly IS 'leaderboard_monthly filtered to the caller''s tenant.';
COMMENT ON VIEW tenant_leaderboard_all_time IS 'leaderboard_all_time filtered to the caller''s tenant.';
COMMENT ON VIEW tenant_skill_demand IS 'skill_demand_aggregates filtered to the caller''s tenant (platform admins see all).';
