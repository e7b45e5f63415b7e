//! The benchmark's organization, generated in SQL as ingestion would have
//! derived it (receipts, events, assessments, days, enrollments, skills,
//! ledger, points), in chunks of learners so a progress bar can follow.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use uuid::Uuid;

pub const ORG: &str = "5e1d0000-0000-4000-8000-000000000000";
pub const ZONE: &str = "Europe/Berlin";
/// Lessons per course.
pub const LESSONS: usize = 10;
/// Courses each learner is enrolled in.
pub const ENROLLED: usize = 3;
/// Days of history the loaded events cover.
const DAYS: usize = 84;
const CHUNK: usize = 2_000;

/// How much data: `default` is the size, `small` a quick run.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Size {
    pub name: &'static str,
    pub learners: usize,
    pub courses: usize,
    pub skills: usize,
    pub events: usize,
}

impl Size {
    pub fn named(name: &str) -> Result<Size> {
        match name {
            "default" => Ok(Size {
                name: "default",
                learners: 100_000,
                courses: 2_000,
                skills: 500,
                events: 2_000_000,
            }),
            "small" => Ok(Size {
                name: "small",
                learners: 5_000,
                courses: 100,
                skills: 50,
                events: 100_000,
            }),
            other => anyhow::bail!("STRIDE_BENCH_SIZE={other}: use default or small"),
        }
    }

    /// Events per learner (at least one).
    pub fn per_learner(&self) -> usize {
        (self.events / self.learners).max(1)
    }
}

/// Learner `i` (1-based), as the SQL below builds it.
pub fn learner(i: usize) -> Uuid {
    id("00000000", i)
}
pub fn course(c: usize) -> Uuid {
    id("c0000000", c)
}
pub fn lesson(c: usize, l: usize) -> Uuid {
    id("e0000000", c * 100 + l)
}
/// The `j`-th course learner `i` is enrolled in.
pub fn course_of(size: &Size, i: usize, j: usize) -> usize {
    1 + (i * ENROLLED + j) % size.courses
}

fn id(prefix: &str, n: usize) -> Uuid {
    Uuid::parse_str(&format!("{prefix}-0000-4000-8000-{n:012x}")).expect("uuid")
}

/// SQL for the id `prefix-0000-4000-8000-<hex of expr>`.
pub fn sql_id(prefix: &str, expr: &str) -> String {
    format!("('{prefix}-0000-4000-8000-' || lpad(to_hex(({expr})::bigint), 12, '0'))::uuid")
}

pub async fn load(owner_url: &str, size: &Size) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    let started = Instant::now();
    eprintln!(
        "loading {} learners, {} courses, {} skills, {} events ...",
        size.learners, size.courses, size.skills, size.events
    );
    conn.batch_execute(&catalogue(size))
        .await
        .context("loading the catalogue")?;
    let mut done = 0;
    while done < size.learners {
        let hi = (done + CHUNK).min(size.learners);
        conn.batch_execute(&learners(size, done + 1, hi))
            .await
            .with_context(|| format!("loading learners {}..{hi}", done + 1))?;
        done = hi;
        progress(done, size, started);
    }
    eprintln!();
    eprintln!("refreshing views and statistics ...");
    conn.batch_execute(
        "DO $$ DECLARE v record; BEGIN
           FOR v IN SELECT schemaname, matviewname FROM pg_matviews LOOP
             EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', v.schemaname, v.matviewname);
           END LOOP; END $$;",
    )
    .await
    .context("refreshing views")?;
    conn.batch_execute("VACUUM ANALYZE")
        .await
        .context("vacuuming")?;
    eprintln!("loaded in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn progress(done: usize, size: &Size, started: Instant) {
    const WIDTH: usize = 30;
    let filled = WIDTH * done / size.learners;
    eprint!(
        "\r[{}{}] {:>3}%  {done}/{} learners  {} events  {:.0} s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        100 * done / size.learners,
        size.learners,
        done * size.per_learner(),
        started.elapsed().as_secs_f64()
    );
    let _ = std::io::stderr().flush();
}

fn catalogue(size: &Size) -> String {
    let (courses, skills) = (size.courses, size.skills);
    let c_i = sql_id("c0000000", "i");
    let s_i = sql_id("50000000", "i");
    format!(
        "INSERT INTO organizations (id, name, time_zone, settings)
           VALUES ('{ORG}', 'Suite Bench', '{ZONE}', '{{\"lesson_target_per_week\": 5}}');
         INSERT INTO departments (id, organization_id, kind, name)
           SELECT {d_i}, '{ORG}', 'department', 'Department ' || i FROM generate_series(1, 20) i;
         INSERT INTO courses (id, organization_id, name, expected_lessons)
           SELECT {c_i}, '{ORG}', 'Course ' || i, {LESSONS} FROM generate_series(1, {courses}) i;
         INSERT INTO lessons (id, course_id, organization_id, position)
           SELECT {lesson}, {c_i}, '{ORG}', l FROM generate_series(1, {courses}) i, generate_series(1, {LESSONS}) l;
         INSERT INTO skills (id, organization_id, name, domain)
           SELECT {s_i}, '{ORG}', 'Skill ' || i, 'domain ' || (i % 10) FROM generate_series(1, {skills}) i;
         INSERT INTO course_skills (course_id, skill_id)
           SELECT {c_i}, {s_of_course} FROM generate_series(1, {courses}) i, generate_series(0, 2) k;
         INSERT INTO skill_prerequisites (skill_id, prerequisite_skill_id)
           SELECT {s_i}, {s_prev} FROM generate_series(2, {skills}) i WHERE i % 5 <> 1;
         INSERT INTO job_role_skills (organization_id, job_role, skill_id, required_mastery)
           SELECT '{ORG}', 'analyst', {s_i}, 80 FROM generate_series(1, 8) i;
         INSERT INTO org_priority_skills (organization_id, skill_id, weight)
           SELECT '{ORG}', {s_i}, 0.5 + i / 20.0 FROM generate_series(1, 6) i;",
        d_i = sql_id("d0000000", "i"),
        lesson = sql_id("e0000000", "i * 100 + l"),
        s_of_course = sql_id("50000000", &format!("1 + (i * 3 + k) % {skills}")),
        s_prev = sql_id("50000000", "i - 1"),
    )
}

/// Learners `lo..=hi` with everything ingestion would have stored for
/// their events: `per_learner` events each over the last 84 days, one in
/// ten an assessment, the rest lesson completions, each with its receipt
/// and ledger row.
fn learners(size: &Size, lo: usize, hi: usize) -> String {
    let k_max = size.per_learner() - 1;
    let courses = size.courses;
    let u_i = sql_id("00000000", "i");
    let course_j = sql_id("c0000000", &format!("1 + (i * {ENROLLED} + j) % {courses}"));
    let skill_k = sql_id(
        "50000000",
        &format!("1 + (i * 7 + k * 13) % {}", size.skills),
    );
    format!(
        "BEGIN;
         INSERT INTO users (id, organization_id, email, full_name, department_id, job_role, time_zone)
           SELECT {u_i}, '{ORG}', 'l' || i || '@bench.example', 'Learner ' || i, {dept}, 'analyst', '{ZONE}'
             FROM generate_series({lo}, {hi}) i;
         INSERT INTO user_roles (user_id, role, organization_id)
           SELECT {u_i}, 'learner', '{ORG}' FROM generate_series({lo}, {hi}) i;
         INSERT INTO user_skills (user_id, skill_id, organization_id, mastery_level, acquired_at, mastered_at, last_assessed_at)
           SELECT DISTINCT ON (1, 2) {u_i}, {skill_k}, '{ORG}', m, now() - interval '200 days',
                  CASE WHEN m >= 80 THEN now() - interval '100 days' END, now() - interval '10 days'
             FROM generate_series({lo}, {hi}) i, generate_series(0, 3) k,
                  LATERAL (SELECT ((i * 31 + k * 17) % 100)::double precision AS m) x;
         CREATE TEMP TABLE ev ON COMMIT DROP AS
           SELECT {u_i} AS user_id, i, k, 'load-' || i || '-' || k AS event_id,
                  CASE WHEN k % 10 = 9 THEN 'assessment_graded' ELSE 'lesson_completed' END AS kind,
                  {course_j} AS course_id, 1 + (i * {ENROLLED} + j) % {courses} AS c, 1 + k % {LESSONS} AS l,
                  t, (t AT TIME ZONE '{ZONE}')::date AS local_date, ((i * 13 + k * 7) % 101)::double precision AS score
             FROM generate_series({lo}, {hi}) i, generate_series(0, {k_max}) k,
                  LATERAL (SELECT k % {ENROLLED} AS j,
                                  date_trunc('day', now()) - ((i * 7 + k * 5) % {DAYS}) * interval '1 day'
                                    + interval '8 hours' + k * interval '10 minutes' AS t) x;
         INSERT INTO event_receipts (organization_id, event_id, payload_hash, kind, user_id, occurred_at)
           SELECT '{ORG}', event_id, sha256(event_id::bytea), kind, user_id, t FROM ev;
         INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id, lesson_id, payload)
           SELECT '{ORG}', event_id, user_id, kind, t, local_date, true, course_id,
                  CASE WHEN kind = 'lesson_completed' THEN {lesson} END,
                  CASE WHEN kind = 'lesson_completed' THEN jsonb_build_object('course_id', course_id, 'lesson_id', {lesson})
                       ELSE jsonb_build_object('course_id', course_id, 'assessment_id', event_id, 'score', score) END
             FROM ev;
         INSERT INTO assessments (organization_id, user_id, course_id, assessment_ref, score, graded_at, source_event_id)
           SELECT '{ORG}', user_id, course_id, event_id, score, t, event_id FROM ev WHERE kind = 'assessment_graded';
         -- Assessments pay their score; a day's first learning activity pays the streak day (lessons pay nothing).
         INSERT INTO point_transactions (organization_id, user_id, rule_id, rule_version, source_key, course_id, occurred_at, local_date, points_awarded)
           SELECT '{ORG}'::uuid, user_id, kind, 1, event_id, course_id, t, local_date, score::int FROM ev WHERE kind = 'assessment_graded'
           UNION ALL
           SELECT '{ORG}'::uuid, user_id, 'streak_day', 1, 'day:' || local_date, NULL, min(t), local_date, 10 FROM ev GROUP BY user_id, local_date;
         INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at,
                                     learning_activities, lessons_completed, logins, session_seconds, points_awarded)
           SELECT user_id, local_date, '{ORG}', min(t), max(t), min(t), count(*),
                  count(*) FILTER (WHERE kind = 'lesson_completed'), 1, 600 * count(*),
                  10 + coalesce(sum(score::int) FILTER (WHERE kind = 'assessment_graded'), 0)
             FROM ev GROUP BY user_id, local_date;
         INSERT INTO enrollments (user_id, course_id, organization_id, status, progress_percent, enrolled_at, last_progress_at, completed_at)
           SELECT user_id, course_id, '{ORG}',
                  CASE WHEN count(*) FILTER (WHERE kind = 'lesson_completed') >= {LESSONS} THEN 'completed' ELSE 'active' END,
                  least(100, 100.0 * count(*) FILTER (WHERE kind = 'lesson_completed') / {LESSONS}),
                  min(t) - interval '1 day', max(t),
                  CASE WHEN count(*) FILTER (WHERE kind = 'lesson_completed') >= {LESSONS} THEN max(t) END
             FROM ev GROUP BY user_id, course_id;
         WITH bounds AS (
            SELECT date_trunc('week', now() AT TIME ZONE '{ZONE}')::date AS w,
                   date_trunc('month', now() AT TIME ZONE '{ZONE}')::date AS m)
         INSERT INTO user_points (user_id, organization_id, total_points, total_reached_at, level, last_active_date, streak_zone,
                                  week_start, week_points, week_reached_at, month_start, month_points, month_reached_at)
           SELECT p.user_id, '{ORG}', sum(p.points_awarded), max(p.occurred_at), 1, max(p.local_date), '{ZONE}',
                  b.w, coalesce(sum(p.points_awarded) FILTER (WHERE p.local_date >= b.w), 0), max(p.occurred_at) FILTER (WHERE p.local_date >= b.w),
                  b.m, coalesce(sum(p.points_awarded) FILTER (WHERE p.local_date >= b.m), 0), max(p.occurred_at) FILTER (WHERE p.local_date >= b.m)
             FROM point_transactions p CROSS JOIN bounds b
            WHERE p.user_id = ANY(ARRAY(SELECT DISTINCT user_id FROM ev))
            GROUP BY p.user_id, b.w, b.m;
         -- After the points rows, so the triggers keep hidden people off the boards.
         INSERT INTO user_preferences (user_id, organization_id, leaderboard_privacy)
           SELECT {u_i}, '{ORG}', CASE WHEN i % 50 = 0 THEN 'hidden' ELSE 'anonymous' END
             FROM generate_series({lo}, {hi}) i WHERE i % 20 = 0 OR i % 50 = 0;
         COMMIT;",
        dept = sql_id("d0000000", "1 + i % 20"),
        lesson = sql_id("e0000000", "c * 100 + l"),
    )
}
