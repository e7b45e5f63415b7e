DROP TABLE erasure_audit;
DROP TABLE job_runs;
-- Drops its partitions too.
DROP TABLE analytics_history;
DROP VIEW predictive_analytics_cache;
DROP TABLE analytics_cache;
