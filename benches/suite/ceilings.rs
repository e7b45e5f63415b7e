//! The database's own ceiling: pgbench scripts doing the SQL work Stride
//! does for each scenario, in one transaction per operation, with the rows
//! generated server-side (cheaper than binding them, so the ceiling is, if
//! anything, generous). The statements are modelled on what Stride sends
//! (see it with `STRIDE_BENCH_LOG_STATEMENTS=1`): identity, catalogue
//! lookups, receipts, events, derived rows, points, cache invalidation.

use crate::dataset::{self, ENROLLED, LESSONS, ORG, Size, ZONE, sql_id};
use crate::load::WARM;

/// The identity every request transaction starts with.
fn identity(user: &str, role: &str) -> String {
    format!(
        "SELECT set_config('stride.user_id', {user}, true), set_config('stride.org_id', '{ORG}', true), set_config('stride.role', '{role}', true);"
    )
}

/// Ingesting `n` (a pgbench expression) events, as one PublishEvents batch
/// or one PublishEvent call: receipts `ceil-<tag>-...`, so the events a run
/// stored can be counted afterwards.
pub fn ingest(size: &Size, tag: &str, n: &str) -> String {
    let others = size.learners - WARM;
    let courses = size.courses;
    let i = format!("{} + ((:r + g) * 2654435761) % {others}", WARM + 1);
    let rows = format!(
        "SELECT g, 'ceil-{tag}-' || :r || '-' || g AS event_id, {user} AS user_id, {course} AS course_id, {lesson} AS lesson_id,
                CASE WHEN g % 10 = 9 THEN 'assessment_graded' ELSE 'lesson_completed' END AS kind,
                (g % 101)::double precision AS score, now() AS at, (now() AT TIME ZONE '{ZONE}')::date AS day
           FROM generate_series(1, {n}) g,
                LATERAL (SELECT {i} AS i) x,
                LATERAL (SELECT 1 + (x.i * {ENROLLED} + g % {ENROLLED}) % {courses} AS c) y",
        user = sql_id("00000000", "x.i"),
        course = sql_id("c0000000", "y.c"),
        lesson = sql_id("e0000000", &format!("y.c * 100 + 1 + g % {LESSONS}")),
    );
    format!(
        r#"\set r random(1, 2000000000)
SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = '{jti}');
BEGIN;
{identity}
SELECT id, organization_id, time_zone FROM users WHERE id = ANY(ARRAY(SELECT user_id FROM ({rows}) b));
SELECT id, organization_id FROM courses WHERE id = ANY(ARRAY(SELECT course_id FROM ({rows}) b));
SELECT id, course_id FROM lessons WHERE id = ANY(ARRAY(SELECT lesson_id FROM ({rows}) b));
INSERT INTO event_receipts (organization_id, event_id, payload_hash, kind, user_id, occurred_at)
  SELECT '{ORG}', event_id, sha256(event_id::bytea), kind, user_id, at FROM ({rows}) b
  ON CONFLICT DO NOTHING RETURNING organization_id, event_id;
INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id, lesson_id, payload)
  SELECT '{ORG}', event_id, user_id, kind, at, day, true, course_id, CASE WHEN kind = 'lesson_completed' THEN lesson_id END,
         jsonb_build_object('course_id', course_id, 'lesson_id', lesson_id) FROM ({rows}) b;
INSERT INTO assessments (organization_id, user_id, course_id, assessment_ref, score, graded_at, source_event_id)
  SELECT '{ORG}', user_id, course_id, event_id, score, at, event_id FROM ({rows}) b WHERE kind = 'assessment_graded';
INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at, learning_activities, lessons_completed, logins, session_seconds)
  SELECT user_id, day, '{ORG}', min(at), max(at), min(at), count(*), count(*) FILTER (WHERE kind = 'lesson_completed'), 0, 0 FROM ({rows}) b GROUP BY 1, 2
  ON CONFLICT (user_id, local_date) DO UPDATE SET
    last_activity_at = GREATEST(daily_activity.last_activity_at, excluded.last_activity_at),
    learning_activities = daily_activity.learning_activities + excluded.learning_activities,
    lessons_completed = daily_activity.lessons_completed + excluded.lessons_completed;
INSERT INTO enrollments (user_id, course_id, organization_id, status, progress_percent, enrolled_at, last_progress_at)
  SELECT user_id, course_id, '{ORG}', 'active', 0, min(at), max(at) FROM ({rows}) b GROUP BY 1, 2
  ON CONFLICT (user_id, course_id) DO UPDATE SET last_progress_at = GREATEST(enrollments.last_progress_at, excluded.last_progress_at);
SELECT user_id, total_points, week_points, current_streak, last_active_date FROM user_points WHERE user_id = ANY(ARRAY(SELECT user_id FROM ({rows}) b)) ORDER BY user_id FOR UPDATE;
SELECT user_id, rule_id, count(*) FROM point_transactions WHERE user_id = ANY(ARRAY(SELECT user_id FROM ({rows}) b)) AND local_date = (now() AT TIME ZONE '{ZONE}')::date GROUP BY 1, 2;
INSERT INTO point_transactions (organization_id, user_id, rule_id, rule_version, source_key, course_id, occurred_at, local_date, points_awarded)
  SELECT '{ORG}'::uuid, user_id, kind, 1, event_id, course_id, at, day, score::int FROM ({rows}) b WHERE kind = 'assessment_graded'
  UNION ALL
  SELECT DISTINCT ON (user_id) '{ORG}'::uuid, user_id, 'streak_day', 1, 'day:' || day, NULL::uuid, at, day, 10 FROM ({rows}) b
    LEFT JOIN LATERAL (SELECT 1 AS paid FROM point_transactions p
                        WHERE p.user_id = b.user_id AND p.local_date = b.day AND p.rule_id = 'streak_day' LIMIT 1) x ON true
   WHERE x.paid IS NULL;
UPDATE daily_activity d SET points_awarded = d.points_awarded + s.p FROM (SELECT user_id, day, sum(score::int) FILTER (WHERE kind = 'assessment_graded') AS p FROM ({rows}) b GROUP BY 1, 2) s
  WHERE d.user_id = s.user_id AND d.local_date = s.day AND s.p IS NOT NULL;
UPDATE user_points u SET total_points = u.total_points + s.p, week_points = u.week_points + s.p, month_points = u.month_points + s.p,
       lessons_completed = u.lessons_completed + s.l, total_reached_at = now(), week_reached_at = now(), month_reached_at = now(), updated_at = now()
  FROM (SELECT user_id, 10 + coalesce(sum(score::int) FILTER (WHERE kind = 'assessment_graded'), 0) AS p, count(*) FILTER (WHERE kind = 'lesson_completed') AS l FROM ({rows}) b GROUP BY 1) s
  WHERE u.user_id = s.user_id;
DELETE FROM analytics_cache WHERE user_id = ANY(ARRAY(SELECT user_id FROM ({rows}) b));
COMMIT;
"#,
        identity = identity("''", "service"),
        jti = uuid::Uuid::new_v4(),
    )
}

/// GetLeaderboard for a learner on the current week, top 10 and own rank,
/// as Stride answers it while its snapshots are fresh (the caller on the
/// board, the first page): the token's check, and nothing else per call.
/// The zone, the ranked board and the first page's names are snapshots
/// shared by all callers and read once a second ([`board_snapshot`], run
/// beside pgbench).
pub fn leaderboard(size: &Size) -> String {
    let me = sql_id("00000000", ":u");
    format!(
        r#"\set u random(1, {learners})
SELECT u.organization_id, u.is_active, EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = '{jti}'), array_agg(r.role)
  FROM users u LEFT JOIN user_roles r ON r.user_id = u.id WHERE u.id = {me} GROUP BY u.id;
"#,
        learners = size.learners,
        jti = uuid::Uuid::new_v4(),
    )
}

/// The board snapshots: the organization's zone, every ranked person of
/// the week, highest first, and the names of the first 50.
pub fn board_snapshot() -> String {
    format!(
        "BEGIN READ ONLY;
         {identity}
         SELECT time_zone FROM organizations WHERE id = '{ORG}';
         SELECT user_id, week_points, week_reached_at FROM tenant_board_points
          WHERE on_board AND organization_id = '{ORG}' AND week_points > 0
            AND week_start = date_trunc('week', now() AT TIME ZONE '{ZONE}')::date
          ORDER BY week_points DESC, week_reached_at, user_id;
         SELECT user_id, leaderboard_privacy, display_name FROM tenant_board_names
          WHERE user_id IN ({first});
         COMMIT;",
        identity = identity(&format!("'{}'", dataset::learner(1)), "learner"),
        first = (1..=50)
            .map(|i| format!("'{}'", dataset::learner(i * 97)))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// A warm analytic: the request transaction with the token's check (in
/// Stride it shares the BEGIN's round trip), the subject's visibility and
/// the cache read.
pub fn warm_analytic() -> String {
    let me = sql_id("00000000", ":u");
    format!(
        r#"\set u random(1, {WARM})
BEGIN;
SELECT is_active FROM users WHERE id = {me};
{identity}
SELECT id, organization_id FROM users WHERE id = {me};
SELECT result, computed_at, expires_at, model_version FROM analytics_cache
  WHERE kind = 'engagement_score' AND subject_type = 'learner' AND subject_id = {me} AND params_hash = '' AND expires_at > now();
COMMIT;
"#,
        identity = identity(&format!("{me}::text"), "learner"),
    )
}

/// Tables of the minimal ceiling, beside Stride's schema and none of its
/// design: an event under its idempotency key, a ledger row, a person's
/// totals. Logged (durable) like Stride's; the runtime role writes them.
pub const MINIMAL_TABLES: &str = "
CREATE TABLE IF NOT EXISTS minimal_events (
    organization_id uuid NOT NULL, event_id text NOT NULL, user_id uuid NOT NULL,
    kind text NOT NULL, occurred_at timestamptz NOT NULL, payload jsonb NOT NULL,
    PRIMARY KEY (organization_id, event_id));
CREATE TABLE IF NOT EXISTS minimal_ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL,
    source_key text NOT NULL, points int NOT NULL, occurred_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS minimal_totals (
    user_id uuid PRIMARY KEY, points bigint NOT NULL, updated_at timestamptz NOT NULL);
GRANT SELECT, INSERT, UPDATE ON minimal_events, minimal_ledger, minimal_totals TO PUBLIC;
GRANT USAGE ON SEQUENCE minimal_ledger_id_seq TO PUBLIC;
";

/// The minimal durable work of `n` events (a pgbench expression), whatever
/// the design: each event inserted under its idempotency key (`ON CONFLICT
/// DO NOTHING`), one ledger row per event inserted, one upsert of each
/// person's totals; one transaction, one statement (data-modifying CTEs:
/// a repeated key pays nothing). The people are the learners Stride's
/// producers write for; receipts `min-<tag>-...` count what a run stored.
pub fn minimal_ingest(size: &Size, tag: &str, n: &str) -> String {
    let others = size.learners - WARM;
    let i = format!("{} + ((:r + g) * 2654435761) % {others}", WARM + 1);
    format!(
        r#"\set r random(1, 2000000000)
BEGIN;
WITH b AS (SELECT 'min-{tag}-' || :r || '-' || g AS event_id, {user} AS user_id FROM generate_series(1, {n}) g),
     stored AS (INSERT INTO minimal_events (organization_id, event_id, user_id, kind, occurred_at, payload)
                SELECT '{ORG}', event_id, user_id, 'lesson_completed', now(), jsonb_build_object('event_id', event_id) FROM b
                ON CONFLICT DO NOTHING RETURNING event_id, user_id),
     paid AS (INSERT INTO minimal_ledger (user_id, source_key, points, occurred_at)
              SELECT user_id, event_id, 10, now() FROM stored)
INSERT INTO minimal_totals (user_id, points, updated_at)
  SELECT user_id, 10 * count(*), now() FROM stored GROUP BY 1
  ON CONFLICT (user_id) DO UPDATE SET points = minimal_totals.points + excluded.points, updated_at = excluded.updated_at;
COMMIT;
"#,
        user = sql_id("00000000", &i),
    )
}
