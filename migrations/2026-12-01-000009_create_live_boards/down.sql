DROP FUNCTION course_board(uuid, timestamptz);
DROP VIEW tenant_board_names;
DROP VIEW tenant_board_points;
DROP TRIGGER users_on_board ON users;
DROP TRIGGER user_preferences_on_board ON user_preferences;
DROP FUNCTION stride_sync_on_board();
DROP TRIGGER user_points_on_board ON user_points;
DROP FUNCTION stride_user_points_on_board();
DROP FUNCTION stride_on_board(uuid);
DROP INDEX user_points_platform_board;
DROP INDEX user_points_month_board;
DROP INDEX user_points_week_board;
DROP INDEX user_points_all_time_board;
CREATE INDEX user_points_org_board ON user_points (organization_id, total_points DESC, total_reached_at, user_id);
ALTER TABLE user_points
    DROP COLUMN on_board,
    DROP COLUMN month_reached_at,
    DROP COLUMN month_points,
    DROP COLUMN month_start,
    DROP COLUMN week_reached_at,
    DROP COLUMN week_points,
    DROP COLUMN week_start;
DROP INDEX point_transactions_user_day;
DROP INDEX point_transactions_user_source;
