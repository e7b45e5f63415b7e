DROP TABLE user_achievements;
DROP TABLE achievements;
DROP TABLE streak_freeze_events;
DROP TABLE user_points;
DROP TABLE point_transactions;
DROP TABLE point_rules;
