DROP VIEW tenant_skill_demand;
DROP VIEW tenant_leaderboard_all_time;
DROP VIEW tenant_leaderboard_monthly;
DROP VIEW tenant_leaderboard_weekly;
DROP MATERIALIZED VIEW skill_demand_aggregates;
DROP MATERIALIZED VIEW leaderboard_all_time;
DROP MATERIALIZED VIEW leaderboard_monthly;
DROP MATERIALIZED VIEW leaderboard_weekly;
