ALTER TABLE user_points DROP COLUMN streak_zone;
