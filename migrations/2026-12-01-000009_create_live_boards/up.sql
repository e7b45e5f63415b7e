-- Gamification at ingestion time (issue 6): lookups the award writer needs,
-- each person's current week and month beside the all-time total (live
-- boards, current to the last commit), who may appear on a board kept by
-- triggers, and the tenant readers of the live boards.

-- Keyed awards (course:<id>, skill:<id>, streak:<date>,
-- streak_milestone:<n>) of a person, whatever their occurred_at: a late,
-- earlier event moves them.
CREATE INDEX point_transactions_user_source ON point_transactions (user_id, source_key);
-- A person's ledger of one local day: the daily cap is re-applied per day.
CREATE INDEX point_transactions_user_day ON point_transactions (user_id, local_date);

ALTER TABLE user_points
    ADD COLUMN week_start       date,
    ADD COLUMN week_points      bigint NOT NULL DEFAULT 0 CHECK (week_points >= 0),
    ADD COLUMN week_reached_at  timestamptz,
    ADD COLUMN month_start      date,
    ADD COLUMN month_points     bigint NOT NULL DEFAULT 0 CHECK (month_points >= 0),
    ADD COLUMN month_reached_at timestamptz,
    ADD COLUMN on_board         boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN user_points.week_start IS 'Monday (organization''s time zone) of the week week_points counts; a stale week means 0 points this week.';
COMMENT ON COLUMN user_points.week_reached_at IS 'occurred_at of the latest award of that week: the weekly tie-break (earlier first).';
COMMENT ON COLUMN user_points.month_start IS 'First day (organization''s time zone) of the month month_points counts.';
COMMENT ON COLUMN user_points.on_board IS 'Active and not hidden: ranked on boards. Kept by triggers on users and user_preferences.';

-- The live boards in board order (points desc, earlier reach, user id),
-- ranked people with points only: top N by index scan, rank as a count.
DROP INDEX user_points_org_board;
CREATE INDEX user_points_all_time_board ON user_points (organization_id, total_points DESC, total_reached_at, user_id)
    WHERE on_board AND total_points > 0;
CREATE INDEX user_points_week_board ON user_points (organization_id, week_start, week_points DESC, week_reached_at, user_id)
    WHERE on_board AND week_points > 0;
CREATE INDEX user_points_month_board ON user_points (organization_id, month_start, month_points DESC, month_reached_at, user_id)
    WHERE on_board AND month_points > 0;
CREATE INDEX user_points_platform_board ON user_points (total_points DESC, total_reached_at, user_id)
    WHERE on_board AND total_points > 0;

-- Whether a person is ranked: active and not hidden. Reads users and
-- preferences as the owner (a learner changing their privacy cannot read
-- other rows, and needs none).
CREATE FUNCTION stride_on_board(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT coalesce((SELECT u.is_active FROM users u WHERE u.id = p_user), false)
       AND coalesce((SELECT p.leaderboard_privacy FROM user_preferences p WHERE p.user_id = p_user), 'public') <> 'hidden'
$$;

CREATE FUNCTION stride_user_points_on_board() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    NEW.on_board := stride_on_board(NEW.user_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER user_points_on_board BEFORE INSERT ON user_points
    FOR EACH ROW EXECUTE FUNCTION stride_user_points_on_board();

-- Privacy and deactivation act on the boards at once. The trigger's
-- argument names the person column of the table it is on.
CREATE FUNCTION stride_sync_on_board() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    person uuid := (to_jsonb(NEW) ->> TG_ARGV[0])::uuid;
BEGIN
    UPDATE user_points SET on_board = stride_on_board(person)
     WHERE user_id = person AND on_board IS DISTINCT FROM stride_on_board(person);
    RETURN NULL;
END
$$;
CREATE TRIGGER user_preferences_on_board AFTER INSERT OR UPDATE OF leaderboard_privacy ON user_preferences
    FOR EACH ROW EXECUTE FUNCTION stride_sync_on_board('user_id');
CREATE TRIGGER users_on_board AFTER UPDATE OF is_active ON users
    FOR EACH ROW EXECUTE FUNCTION stride_sync_on_board('id');
REVOKE ALL ON FUNCTION stride_on_board(uuid) FROM PUBLIC;

-- Tenant readers (owner's rights, like the tenant_leaderboard_* views):
-- board positions of the caller's organization (platform admins: all), and
-- the names boards may show (public people only).
CREATE VIEW tenant_board_points AS
SELECT up.organization_id, up.user_id, up.on_board,
       up.total_points, up.total_reached_at,
       up.week_start, up.week_points, up.week_reached_at,
       up.month_start, up.month_points, up.month_reached_at
  FROM user_points up
 WHERE up.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
COMMENT ON VIEW tenant_board_points IS 'Live board positions (all-time, current week and month) of the caller''s tenant; on_board = ranked.';

CREATE VIEW tenant_board_names AS
SELECT u.id AS user_id, u.organization_id,
       coalesce(p.leaderboard_privacy, 'public') AS leaderboard_privacy,
       CASE WHEN coalesce(p.leaderboard_privacy, 'public') = 'public' THEN u.full_name END AS display_name
  FROM users u
  LEFT JOIN user_preferences p ON p.user_id = u.id
 WHERE u.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
    OR current_setting('stride.role', true) = 'platform_admin';
COMMENT ON VIEW tenant_board_names IS 'What a board may show of a person of the caller''s tenant: privacy, and the name only when public.';

-- Course boards: points each ranked learner earned from one course of the
-- caller's tenant since p_from (NULL: all time). Reads the ledger as the
-- owner: learners cannot read each other's ledger rows.
CREATE FUNCTION course_board(p_course uuid, p_from timestamptz)
RETURNS TABLE (user_id uuid, points bigint, reached_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT pt.user_id, sum(pt.points_awarded)::bigint, max(pt.occurred_at)
      FROM point_transactions pt
      JOIN courses c ON c.id = pt.course_id
     WHERE pt.course_id = p_course
       AND pt.points_awarded > 0
       AND (p_from IS NULL OR pt.occurred_at >= p_from)
       AND (c.organization_id = nullif(current_setting('stride.org_id', true), '')::uuid
            OR current_setting('stride.role', true) = 'platform_admin')
     GROUP BY pt.user_id
$$;
COMMENT ON FUNCTION course_board(uuid, timestamptz) IS 'Course leaderboard rows (points earned from the course since p_from) for a course of the caller''s tenant; empty for another tenant''s course.';
REVOKE ALL ON FUNCTION course_board(uuid, timestamptz) FROM PUBLIC;

GRANT SELECT ON tenant_board_points, tenant_board_names TO stride_app;
GRANT EXECUTE ON FUNCTION course_board(uuid, timestamptz) TO stride_app;
GRANT EXECUTE ON FUNCTION stride_on_board(uuid) TO stride_app;
