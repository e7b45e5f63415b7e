//! Shared by the ingestion tests: a catalogue with fixed ids (so two
//! databases can hold the same one), random event sequences, and a dump of
//! everything ingestion derives, to compare two databases.

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stride::auth::Scope;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tokio_stream::StreamExt;
use uuid::Uuid;

use crate::harness::{TestServer, authed};

/// One organization with people in three time zones, courses with
/// lessons, and skills; every id fixed by `seed`.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub org: Uuid,
    pub users: Vec<Uuid>,
    pub courses: Vec<Uuid>,
    /// (course, lesson)
    pub lessons: Vec<(Uuid, Uuid)>,
    pub skills: Vec<Uuid>,
}

const ZONES: [&str; 3] = ["UTC", "Asia/Tokyo", "America/New_York"];

impl Fixture {
    pub fn new(seed: u128) -> Self {
        Self::with_courses(seed, 3)
    }

    /// [`Fixture::new`] with `courses` courses (ids rising with the index).
    pub fn with_courses(seed: u128, courses: u128) -> Self {
        let id = |kind: u128, n: u128| Uuid::from_u128((seed << 64) | (kind << 32) | n);
        let courses: Vec<Uuid> = (0..courses).map(|n| id(2, n)).collect();
        Self {
            org: id(0, 0),
            users: (0..4).map(|n| id(1, n)).collect(),
            lessons: courses
                .iter()
                .enumerate()
                .flat_map(|(c, course)| (0..3).map(move |n| (*course, id(3, (c as u128) * 10 + n))))
                .collect(),
            courses,
            skills: (0..3).map(|n| id(4, n)).collect(),
        }
    }

    /// Inserts the catalogue as the database owner.
    pub async fn create(&self, owner_url: &str) {
        let mut conn = AsyncPgConnection::establish(owner_url)
            .await
            .expect("owner connection");
        let mut sql = format!(
            "INSERT INTO organizations (id, name) VALUES ('{}', 'Ingest Org');",
            self.org
        );
        for (n, user) in self.users.iter().enumerate() {
            sql += &format!(
                "INSERT INTO users (id, organization_id, email, full_name, time_zone) \
                 VALUES ('{user}', '{}', '{user}@ingest.example', 'Learner {n}', '{}');\
                 INSERT INTO user_roles (user_id, role, organization_id) VALUES ('{user}', 'learner', '{}');",
                self.org,
                ZONES[n % ZONES.len()],
                self.org
            );
        }
        for course in &self.courses {
            sql += &format!(
                "INSERT INTO courses (id, organization_id, name, expected_lessons) VALUES ('{course}', '{}', 'Course', 3);",
                self.org
            );
        }
        for (n, (course, lesson)) in self.lessons.iter().enumerate() {
            sql += &format!(
                "INSERT INTO lessons (id, course_id, organization_id, title, position) \
                 VALUES ('{lesson}', '{course}', '{}', 'Lesson', {n});",
                self.org
            );
        }
        for skill in &self.skills {
            sql += &format!(
                "INSERT INTO skills (id, organization_id, name, domain) VALUES ('{skill}', '{}', 'Skill {skill}', 'data');",
                self.org
            );
        }
        conn.batch_execute(&sql).await.expect("insert catalogue");
    }
}

pub fn timestamp(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    })
}

/// An assessment of `user` in `course` graded `score`, happening now; the
/// event id is also the assessment id.
pub fn graded_now(id: &str, user: Uuid, course: Uuid, score: f64) -> pb::Event {
    pb::Event {
        event_id: id.into(),
        occurred_at: timestamp(Utc::now()),
        user_id: user.to_string(),
        organization_id: String::new(),
        payload: Some(pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
            course_id: course.to_string(),
            assessment_id: id.into(),
            skill_id: String::new(),
            score,
        })),
    }
}

/// A person's total points as the database at `owner_url` holds them.
pub async fn stored_points(owner_url: &str, user: Uuid) -> i64 {
    let sql = format!("SELECT total_points AS n FROM user_points WHERE user_id = '{user}'");
    count(owner_url, &sql).await
}

/// `n` random events of every kind over the last 40 days, ids `<prefix>-<i>`.
pub fn random_events(fx: &Fixture, n: usize, seed: u64, prefix: &str) -> Vec<pb::Event> {
    random_events_within(fx, n, seed, prefix, 10..40 * 24 * 60)
}

/// [`random_events`] at `minutes_ago` before now.
pub fn random_events_within(
    fx: &Fixture,
    n: usize,
    seed: u64,
    prefix: &str,
    minutes_ago: std::ops::Range<i64>,
) -> Vec<pb::Event> {
    use pb::event::Payload as P;
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let user = fx.users[rng.random_range(0..fx.users.len())];
            let course = fx.courses[rng.random_range(0..fx.courses.len())];
            let skill = fx.skills[rng.random_range(0..fx.skills.len())];
            let at = now - Duration::minutes(rng.random_range(minutes_ago.clone()));
            let payload = match rng.random_range(0..9) {
                0 => P::EnrollmentCreated(pb::EnrollmentCreated {
                    course_id: course.to_string(),
                }),
                1 => P::ProgressUpdated(pb::ProgressUpdated {
                    course_id: course.to_string(),
                    progress_percent: f64::from(rng.random_range(0..=100u8)),
                }),
                2 => {
                    let (course, lesson) = fx.lessons[rng.random_range(0..fx.lessons.len())];
                    P::LessonCompleted(pb::LessonCompleted {
                        course_id: course.to_string(),
                        lesson_id: lesson.to_string(),
                    })
                }
                3 => P::CourseCompleted(pb::CourseCompleted {
                    course_id: course.to_string(),
                }),
                4 => P::AssessmentGraded(pb::AssessmentGraded {
                    course_id: course.to_string(),
                    assessment_id: format!("quiz-{}", rng.random_range(0..5)),
                    skill_id: if rng.random_bool(0.5) {
                        skill.to_string()
                    } else {
                        String::new()
                    },
                    score: f64::from(rng.random_range(0..=100u8)),
                }),
                5 => P::SkillMasteryUpdated(pb::SkillMasteryUpdated {
                    skill_id: skill.to_string(),
                    mastery: f64::from(rng.random_range(0..=100u8)),
                }),
                6 => P::PracticePassed(pb::PracticePassed {
                    exercise_id: format!("ex-{}", rng.random_range(0..50)),
                    course_id: course.to_string(),
                    skill_id: String::new(),
                }),
                7 => P::LearningSession(pb::LearningSession {
                    session_id: format!("s-{i}"),
                    started_at: timestamp(at - Duration::minutes(rng.random_range(1..90))),
                    ended_at: timestamp(at),
                }),
                _ => P::Login(pb::Login {}),
            };
            pb::Event {
                event_id: format!("{prefix}-{i}"),
                occurred_at: timestamp(at),
                user_id: user.to_string(),
                organization_id: String::new(),
                payload: Some(payload),
            }
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    dump: String,
}

/// What a dry-run recompute of `users` would change, as the operator sees
/// it: empty when the stored state is what replaying everything gives.
pub async fn recompute_differences(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> Vec<stride::proto::gamification::v1::RecomputeDifference> {
    let users = users.to_vec();
    let operator = stride::db::tenant::DbIdentity::operator();
    let plan = stride::db::tenant::transaction(
        conn,
        stride::db::tenant::Begin::writing(&operator),
        move |conn| {
            Box::pin(async move { stride::db::gamification::recompute(conn, &users, true).await })
        },
    )
    .await
    .expect("recompute (dry run)");
    stride::api::gamification::differences_of(&plan)
}

/// Everything ingestion writes, as canonical text (no generated ids or
/// insertion times), to compare two databases.
pub async fn derived_state(owner_url: &str) -> String {
    let mut conn = AsyncPgConnection::establish(owner_url)
        .await
        .expect("owner connection");
    let tables = [
        "SELECT user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at, \
                learning_activities, lessons_completed, logins, session_seconds, points_awarded, points_capped \
           FROM daily_activity ORDER BY user_id, local_date",
        // Gamification: the ledger (without ids and the reporting event,
        // which depend on arrival order), totals, streaks, freezes, and
        // which achievements were earned (not when: the arrival that
        // completed a criterion).
        "SELECT user_id, rule_id, rule_version, source_key, course_id, occurred_at, local_date, \
                points_awarded, points_capped \
           FROM point_transactions ORDER BY user_id, source_key, rule_id",
        "SELECT user_id, total_points, capped_points, total_reached_at, level, current_streak, longest_streak, \
                last_active_date, freezes_held, courses_completed, lessons_completed, skills_acquired, \
                paths_completed, domains_mastered, peers_helped, week_start, week_points, week_reached_at, \
                month_start, month_points, month_reached_at, on_board \
           FROM user_points ORDER BY user_id",
        "SELECT user_id, kind, local_date, source_key FROM streak_freeze_events ORDER BY user_id, kind, local_date, source_key",
        "SELECT user_id, achievement_id FROM user_achievements ORDER BY user_id, achievement_id",
        "SELECT id, user_id, course_id, status, progress_percent, enrolled_at, last_progress_at, completed_at \
           FROM enrollments ORDER BY user_id, course_id",
        "SELECT user_id, skill_id, mastery_level, acquired_at, mastered_at, last_assessed_at \
           FROM user_skills ORDER BY user_id, skill_id",
        "SELECT user_id, course_id, skill_id, assessment_ref, score, passed, graded_at, source_event_id \
           FROM assessments ORDER BY source_event_id",
        "SELECT event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id, lesson_id, \
                skill_id, payload FROM learning_events ORDER BY event_id",
        "SELECT organization_id, event_id, payload_hash, kind, user_id, occurred_at FROM event_receipts ORDER BY event_id",
    ];
    let mut out = String::new();
    for query in tables {
        let sql = format!(
            "SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') AS dump FROM ({query}) t"
        );
        let rows: Vec<Dump> = diesel::sql_query(sql).load(&mut conn).await.expect("dump");
        out += &rows[0].dump;
        out += "\n--\n";
    }
    out
}

/// A count from the owner's view of the database.
pub async fn count(owner_url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(owner_url)
        .await
        .expect("owner connection");
    let rows: Vec<N> = diesel::sql_query(sql).load(&mut conn).await.expect("count");
    rows[0].n
}

/// Publishes `list` on one PublishEvents stream as an upstream service of
/// `org`; one result per event, in order.
pub async fn publish_stream(
    server: &TestServer,
    org: Uuid,
    list: Vec<pb::Event>,
) -> Vec<pb::EventResult> {
    let token = server.org_service_token("lms", org, &[Scope::EventsWrite]);
    let requests = tokio_stream::iter(
        list.into_iter()
            .map(|e| pb::PublishEventsRequest { event: Some(e) })
            .collect::<Vec<_>>(),
    );
    let mut stream = EventServiceClient::new(server.channel())
        .publish_events(authed(requests, &token))
        .await
        .expect("stream")
        .into_inner();
    let mut out = Vec::new();
    while let Some(r) = stream.next().await {
        out.push(r.expect("result").result.expect("result"));
    }
    out
}

/// People whose stored totals, current week and month (points and the
/// latest paying award of each) differ from their ledger's sums: what
/// ingestion keeps incrementally must equal what the ledger says.
pub async fn points_drift(owner_url: &str) -> i64 {
    count(
        owner_url,
        "SELECT count(*) AS n
           FROM user_points up
           JOIN organizations o ON o.id = up.organization_id
          CROSS JOIN LATERAL (
                SELECT date_trunc('week', now() AT TIME ZONE o.time_zone) AT TIME ZONE o.time_zone AS week_from,
                       date_trunc('month', now() AT TIME ZONE o.time_zone) AT TIME ZONE o.time_zone AS month_from) b
          CROSS JOIN LATERAL (
                SELECT coalesce(sum(points_awarded), 0) AS total,
                       max(occurred_at) FILTER (WHERE points_awarded > 0) AS total_at,
                       coalesce(sum(points_awarded) FILTER (WHERE occurred_at >= b.week_from), 0) AS week,
                       max(occurred_at) FILTER (WHERE occurred_at >= b.week_from AND points_awarded > 0) AS week_at,
                       coalesce(sum(points_awarded) FILTER (WHERE occurred_at >= b.month_from), 0) AS month,
                       max(occurred_at) FILTER (WHERE occurred_at >= b.month_from AND points_awarded > 0) AS month_at
                  FROM point_transactions pt WHERE pt.user_id = up.user_id) l
          WHERE (up.total_points, up.total_reached_at, up.week_points, up.week_reached_at, up.month_points, up.month_reached_at)
                IS DISTINCT FROM (l.total, l.total_at, l.week, l.week_at, l.month, l.month_at)",
    )
    .await
}
