-- Dropping a partitioned table drops all of its partitions.
DROP TABLE daily_activity;
DROP TABLE user_skills;
DROP TABLE assessments;
DROP TABLE learning_events;
DROP TABLE event_receipts;
DROP FUNCTION stride_drop_monthly_partitions_before(regclass, date);
DROP FUNCTION stride_ensure_monthly_partitions(regclass, date, date);
