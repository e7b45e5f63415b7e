//! Ingestion throughput, printed (not asserted): events/s through a
//! PublishEvents stream, through unary PublishEvent calls, and through
//! pgbench running the same statements a stream batch runs, as the ceiling.
//!
//! Run: `cargo bench --bench ingest` (needs the PostgreSQL server binaries,
//! pgbench included). Knobs: STRIDE_BENCH_EVENTS (stream events per run,
//! default 40000), STRIDE_BENCH_UNARY (unary events per run, default 2000),
//! STRIDE_BENCH_SECONDS (pgbench duration, default 15).

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::{Scope, Subject};
use stride::config::Limits;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use support::{Bench, authed, env_or};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use uuid::Uuid;

const USERS: u128 = 200;
const COURSES: u128 = 10;
const LESSONS_PER_COURSE: u128 = 20;
const BATCH: usize = 500;

fn org() -> Uuid {
    Uuid::from_u128(0xbe_0000)
}
fn user(n: u128) -> Uuid {
    Uuid::from_u128(0xbe_1000_0000 + n)
}
fn course(n: u128) -> Uuid {
    Uuid::from_u128(0xbe_2000_0000 + n)
}
fn lesson(c: u128, n: u128) -> Uuid {
    Uuid::from_u128(0xbe_3000_0000 + c * 1000 + n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let bench = Bench::start("ingest").await?;
    let result = run(&bench).await;
    bench.stop();
    result
}

async fn run(bench: &Bench) -> Result<()> {
    seed(&bench.owner_url).await?;
    let keys = support::keys();
    let token = keys
        .issue(
            &Subject::Service {
                name: "bench".into(),
                org_id: Some(org()),
                scopes: vec![Scope::EventsWrite],
            },
            Duration::from_secs(3600),
        )?
        .0;
    let limits = Limits {
        ingest_batch_size: BATCH as u32,
        pool_size: 8,
        ..Limits::default()
    };
    let channel = bench.serve(keys, limits).await?;

    let total = env_or("STRIDE_BENCH_EVENTS", 40_000);
    let unary = env_or("STRIDE_BENCH_UNARY", 2_000);
    let seconds = env_or("STRIDE_BENCH_SECONDS", 15);
    println!(
        "ingest benchmark: {USERS} learners, lesson_completed events, batches of {BATCH}, 2 cores"
    );

    let mut next_id = 0usize;
    let mut figures = Vec::new();
    for streams in [1usize, 2] {
        let rate = stream_rate(&channel, &token, streams, total, &mut next_id).await?;
        println!("stream  {streams} stream(s): {rate:>9.0} events/s ({total} events)");
        figures.push((streams, rate));
    }
    for in_flight in [1, 16] {
        let rate = unary_rate(&channel, &token, in_flight, unary, &mut next_id).await?;
        println!("unary   {in_flight:>2} in flight: {rate:>9.0} events/s ({unary} calls)");
    }

    let script = bench.file("batch.sql");
    std::fs::write(&script, pgbench_script())?;
    for (clients, stream_rate) in figures {
        let tps = support::pgbench(bench, &script, clients, seconds, false)?.tps;
        let ceiling = tps * BATCH as f64;
        println!(
            "pgbench {clients} client(s):  {ceiling:>9.0} events/s ({tps:.1} batches/s) -> stream at {:.0}% of the ceiling",
            100.0 * stream_rate / ceiling
        );
    }
    Ok(())
}

async fn seed(owner_url: &str) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    let org = org();
    let mut sql = format!("INSERT INTO organizations (id, name) VALUES ('{org}', 'Bench');");
    for u in 0..USERS {
        let id = user(u);
        sql += &format!(
            "INSERT INTO users (id, organization_id, email, time_zone) VALUES ('{id}', '{org}', '{id}@bench.example', 'Europe/Berlin');"
        );
    }
    for c in 0..COURSES {
        let id = course(c);
        sql += &format!(
            "INSERT INTO courses (id, organization_id, name) VALUES ('{id}', '{org}', 'Course {c}');"
        );
        for l in 0..LESSONS_PER_COURSE {
            sql += &format!(
                "INSERT INTO lessons (id, course_id, organization_id, position) VALUES ('{}', '{id}', '{org}', {l});",
                lesson(c, l)
            );
        }
    }
    conn.batch_execute(&sql)
        .await
        .context("seeding the benchmark catalogue")?;
    Ok(())
}

/// Event `n`: a lesson completion by a learner, spread over learners,
/// courses and the last few days.
fn event(n: usize) -> pb::Event {
    let n128 = n as u128;
    let c = n128 % COURSES;
    let at = Utc::now() - chrono::Duration::seconds((n % 300_000) as i64);
    pb::Event {
        event_id: format!("bench-{n}"),
        occurred_at: Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        }),
        user_id: user(n128 % USERS).to_string(),
        organization_id: String::new(),
        payload: Some(pb::event::Payload::LessonCompleted(pb::LessonCompleted {
            course_id: course(c).to_string(),
            lesson_id: lesson(c, n128 % LESSONS_PER_COURSE).to_string(),
        })),
    }
}

async fn stream_rate(
    channel: &Channel,
    token: &str,
    streams: usize,
    total: usize,
    next_id: &mut usize,
) -> Result<f64> {
    let per_stream = total / streams;
    let batches: Vec<Vec<pb::PublishEventsRequest>> = (0..streams)
        .map(|s| {
            (0..per_stream)
                .map(|i| pb::PublishEventsRequest {
                    event: Some(event(*next_id + s * per_stream + i)),
                })
                .collect()
        })
        .collect();
    *next_id += streams * per_stream;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for requests in batches {
        let mut client = EventServiceClient::new(channel.clone());
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let mut responses = client
                .publish_events(authed(tokio_stream::iter(requests), &token))
                .await?
                .into_inner();
            let mut accepted = 0usize;
            while let Some(response) = responses.next().await {
                if response?
                    .result
                    .is_some_and(|r| r.status == pb::EventStatus::Accepted as i32)
                {
                    accepted += 1;
                }
            }
            Ok::<usize, tonic::Status>(accepted)
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if accepted != streams * per_stream {
        bail!(
            "only {accepted} of {} events accepted",
            streams * per_stream
        );
    }
    Ok(accepted as f64 / elapsed)
}

async fn unary_rate(
    channel: &Channel,
    token: &str,
    in_flight: usize,
    total: usize,
    next_id: &mut usize,
) -> Result<f64> {
    let first = *next_id;
    *next_id += total;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..in_flight {
        let mut client = EventServiceClient::new(channel.clone());
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while n < total {
                let request = pb::PublishEventRequest {
                    event: Some(event(first + n)),
                };
                client.publish_event(authed(request, &token)).await?;
                n += in_flight;
            }
            Ok::<(), tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The statements one stream batch of BATCH lesson completions runs, with
/// the rows generated server-side (cheaper than binding them, so the
/// ceiling is if anything generous).
fn pgbench_script() -> String {
    let org = org();
    let users: Vec<String> = (0..USERS).map(|u| format!("{}", user(u))).collect();
    let courses: Vec<String> = (0..COURSES).map(|c| format!("{}", course(c))).collect();
    let rows = format!(
        "SELECT g, ('{{{users}}}'::uuid[])[1 + (:r + g) % {USERS}] AS user_id, \
                ('{{{courses}}}'::uuid[])[1 + (:r + g) % {COURSES}] AS course_id, \
                now() - ((g % 3000) || ' seconds')::interval AS at \
           FROM generate_series(1, {BATCH}) g",
        users = users.join(","),
        courses = courses.join(","),
    );
    format!(
        r#"\set r random(1, 2000000000)
BEGIN;
SELECT set_config('stride.user_id', '', true), set_config('stride.org_id', '{org}', true), set_config('stride.role', 'service', true);
SELECT id, organization_id, time_zone FROM users WHERE id = ANY(ARRAY(SELECT user_id FROM ({rows}) b));
SELECT id, organization_id FROM courses WHERE id = ANY(ARRAY(SELECT course_id FROM ({rows}) b));
SELECT id, course_id FROM lessons WHERE course_id = ANY(ARRAY(SELECT course_id FROM ({rows}) b)) LIMIT 200;
INSERT INTO event_receipts (organization_id, event_id, payload_hash, kind, user_id, occurred_at)
  SELECT '{org}', 'pgb-' || :r || '-' || g, '\xabababababababababababababababababababababababababababababababab'::bytea, 'lesson_completed', user_id, at FROM ({rows}) b
  ON CONFLICT DO NOTHING RETURNING organization_id, event_id;
INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id, lesson_id, skill_id, payload)
  SELECT '{org}', 'pgb-' || :r || '-' || g, user_id, 'lesson_completed', at, (at AT TIME ZONE 'Europe/Berlin')::date, true, course_id, NULL, NULL,
         jsonb_build_object('course_id', course_id, 'lesson_id', course_id) FROM ({rows}) b;
INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at, learning_activities, lessons_completed, logins, session_seconds)
  SELECT user_id, (at AT TIME ZONE 'Europe/Berlin')::date, '{org}', min(at), max(at), min(at), count(*), count(*), 0, 0 FROM ({rows}) b GROUP BY 1, 2
  ON CONFLICT (user_id, local_date) DO UPDATE SET
    first_activity_at = LEAST(daily_activity.first_activity_at, excluded.first_activity_at),
    last_activity_at = GREATEST(daily_activity.last_activity_at, excluded.last_activity_at),
    first_learning_at = LEAST(daily_activity.first_learning_at, excluded.first_learning_at),
    learning_activities = daily_activity.learning_activities + excluded.learning_activities,
    lessons_completed = daily_activity.lessons_completed + excluded.lessons_completed,
    logins = daily_activity.logins + excluded.logins,
    session_seconds = daily_activity.session_seconds + excluded.session_seconds;
INSERT INTO enrollments (id, user_id, course_id, organization_id, status, progress_percent, enrolled_at, last_progress_at, completed_at)
  SELECT gen_random_uuid(), user_id, course_id, '{org}', 'active', 0, min(at), max(at), NULL FROM ({rows}) b GROUP BY 2, 3
  ON CONFLICT (user_id, course_id) DO UPDATE SET
    enrolled_at = LEAST(enrollments.enrolled_at, excluded.enrolled_at),
    progress_percent = GREATEST(enrollments.progress_percent, excluded.progress_percent),
    last_progress_at = GREATEST(enrollments.last_progress_at, excluded.last_progress_at),
    completed_at = LEAST(enrollments.completed_at, excluded.completed_at),
    status = CASE WHEN excluded.completed_at IS NOT NULL THEN 'completed' ELSE enrollments.status END;
COMMIT;
"#
    )
}
