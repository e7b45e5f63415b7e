DROP TABLE user_achievements;
DROP TABLE achievements;
DROP TABLE streak_freeze_events;
DROP TABLE user_points;
-- Drops its partitions too.
DROP TABLE point_transactions;
DROP TABLE point_rules;
