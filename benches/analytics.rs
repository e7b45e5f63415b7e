//! Analytics latency, printed (not asserted), over an organization of 5,000
//! learners in 10 departments with 12 weeks of activity, and 8 learners
//! with a year of events each (~5,000: daily activity, lessons, sessions,
//! assessments, skills), all generated in SQL as ingestion would have
//! derived them.
//!
//! - learner bundle: the 6 learner and 3 predictive analytics of one
//!   learner, sent together, 8 heavy learners at once; cold (fresh = true,
//!   every call computes) and warm (served from the cache).
//! - organization: the 4 organization analytics, cold, one after another.
//!
//! Run: `cargo bench --bench analytics`. Knobs: STRIDE_BENCH_LEARNERS
//! (5000), STRIDE_BENCH_ROUNDS (bundles per caller, 30),
//! STRIDE_BENCH_ORG_ROUNDS (5), STRIDE_BENCH_CALLERS (heavy learners asking
//! at once, 1..8, 8).

mod support;

use std::time::{Duration, Instant};

use anyhow::Result;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::{Role, Subject};
use stride::config::Limits;
use stride::proto::analytics::v1 as pb;
use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use support::{Bench, authed, env_or, percentile, user};
use uuid::Uuid;

const ORG: &str = "a1a1a000-0000-4000-8000-000000000000";
const ADMIN: &str = "a1a1a000-0000-4000-8000-00000000ad00";
/// Learners 1..=HEAVY have a year of events.
const HEAVY: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let bench = Bench::start("analytics").await?;
    let result = run(&bench).await;
    bench.stop();
    result
}

async fn run(bench: &Bench) -> Result<()> {
    let learners = env_or("STRIDE_BENCH_LEARNERS", 5000);
    let rounds = env_or("STRIDE_BENCH_ROUNDS", 30);
    let org_rounds = env_or("STRIDE_BENCH_ORG_ROUNDS", 5);
    let callers = env_or("STRIDE_BENCH_CALLERS", HEAVY).clamp(1, HEAVY);
    load(&bench.owner_url, learners).await?;
    let keys = support::keys();
    let token = |user_id: Uuid, role: Role| {
        let subject = Subject::User {
            user_id,
            org_id: ORG.parse().expect("uuid"),
            roles: vec![role],
            active: Some(role),
        };
        keys.issue(&subject, Duration::from_secs(3600)).map(|t| t.0)
    };
    let heavy: Vec<String> = (1..=callers)
        .map(|i| token(user(i), Role::Learner))
        .collect::<Result<_, _>>()?;
    let admin = token(ADMIN.parse()?, Role::OrgAdmin)?;
    let channel = bench.serve(keys.clone(), Limits::default()).await?;
    let events = support::count(&bench.owner_url, "SELECT (SELECT count(*) FROM learning_events WHERE user_id = '00000000-0000-4000-8000-000000000001') + (SELECT count(*) FROM assessments WHERE user_id = '00000000-0000-4000-8000-000000000001')").await?;
    println!(
        "analytics benchmark: {learners} learners, {HEAVY} of them with a year of activity (~{events} events each), 2 cores"
    );

    for (name, fresh) in [("cold", true), ("warm", false)] {
        if !fresh {
            // Fill the cache once.
            for t in &heavy {
                support::analytics_bundle(&channel, t, false).await?;
            }
        }
        let started = Instant::now();
        let tasks: Vec<_> = heavy
            .iter()
            .map(|t| {
                let (channel, t) = (channel.clone(), t.clone());
                tokio::spawn(async move {
                    let mut calls = Vec::new();
                    let mut bundles = Vec::new();
                    for _ in 0..rounds {
                        let t0 = Instant::now();
                        calls.extend(support::analytics_bundle(&channel, &t, fresh).await?);
                        bundles.push(t0.elapsed().as_micros() as u64);
                    }
                    Ok::<_, anyhow::Error>((calls, bundles))
                })
            })
            .collect();
        let (mut calls, mut bundles) = (Vec::new(), Vec::new());
        for task in tasks {
            let (c, b) = task.await??;
            calls.extend(c);
            bundles.extend(b);
        }
        let rate = bundles.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "learner bundle {name}: per call p50 {:>6.2} ms p99 {:>6.2} ms | per bundle (9 calls) p50 {:>6.2} ms p99 {:>6.2} ms | {rate:.0} bundles/s, {callers} concurrent",
            ms(percentile(&mut calls, 50.0)),
            ms(percentile(&mut calls, 99.0)),
            ms(percentile(&mut bundles, 50.0)),
            ms(percentile(&mut bundles, 99.0)),
        );
    }

    // Cached answers, each caller one call at a time: 1 caller (the floor
    // of a warm answer), then every heavy learner at once.
    for n in [1, heavy.len()] {
        let started = Instant::now();
        let tasks: Vec<_> = heavy[..n]
            .iter()
            .map(|t| {
                let mut client = AnalyticsServiceClient::new(channel.clone());
                let t = t.clone();
                tokio::spawn(async move {
                    let mut own = Vec::new();
                    for _ in 0..200 {
                        let request = pb::GetEngagementScoreRequest {
                            subject: Some(pb::LearnerSubject::default()),
                            fresh: false,
                        };
                        let t0 = Instant::now();
                        let reply = client.get_engagement_score(authed(request, &t)).await?;
                        own.push(t0.elapsed().as_micros() as u64);
                        anyhow::ensure!(
                            reply.get_ref().meta.as_ref().is_some_and(|m| m.from_cache),
                            "cached"
                        );
                    }
                    Ok::<_, anyhow::Error>(own)
                })
            })
            .collect();
        let mut single = Vec::new();
        for task in tasks {
            single.extend(task.await??);
        }
        let rate = single.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "warm single calls, {n} caller(s) one at a time: p50 {:>6.2} ms p99 {:>6.2} ms, {rate:.0} calls/s",
            ms(percentile(&mut single, 50.0)),
            ms(percentile(&mut single, 99.0)),
        );
    }
    let mut client = AnalyticsServiceClient::new(channel.clone());

    let subject = || {
        Some(pb::OrganizationSubject {
            organization_id: String::new(),
            department_id: String::new(),
            weeks: 12,
        })
    };
    type Timings = Vec<u64>;
    let (mut velocity, mut alignment, mut departments, mut culture): (
        Timings,
        Timings,
        Timings,
        Timings,
    ) = Default::default();
    for _ in 0..org_rounds {
        let t = Instant::now();
        client
            .get_organization_velocity(authed(
                pb::GetOrganizationVelocityRequest {
                    subject: subject(),
                    fresh: true,
                },
                &admin,
            ))
            .await?;
        velocity.push(t.elapsed().as_micros() as u64);
        let t = Instant::now();
        client
            .get_strategic_alignment(authed(
                pb::GetStrategicAlignmentRequest {
                    subject: subject(),
                    fresh: true,
                },
                &admin,
            ))
            .await?;
        alignment.push(t.elapsed().as_micros() as u64);
        let t = Instant::now();
        let reply = client
            .get_department_analytics(authed(
                pb::GetDepartmentAnalyticsRequest {
                    subject: subject(),
                    fresh: true,
                },
                &admin,
            ))
            .await?;
        departments.push(t.elapsed().as_micros() as u64);
        anyhow::ensure!(reply.get_ref().groups.len() == 10, "ten departments");
        let t = Instant::now();
        client
            .get_learning_culture(authed(
                pb::GetLearningCultureRequest {
                    subject: subject(),
                    fresh: true,
                },
                &admin,
            ))
            .await?;
        culture.push(t.elapsed().as_micros() as u64);
    }
    for (name, mut timings) in [
        ("organization velocity", velocity),
        ("strategic alignment", alignment),
        ("department analytics", departments),
        ("learning culture", culture),
    ] {
        println!(
            "organization cold {name:<22} p50 {:>7.1} ms  max {:>7.1} ms ({org_rounds} runs)",
            ms(percentile(&mut timings, 50.0)),
            ms(percentile(&mut timings, 100.0)),
        );
    }
    Ok(())
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The organization, generated in SQL: departments, courses with skills, a
/// job role, learners with enrollments, 12 weeks of daily activity and
/// learning events for everyone, and a year of it for the heavy learners.
async fn load(owner_url: &str, learners: usize) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    let uid = |e: &str| format!("('00000000-0000-4000-8000-' || lpad(to_hex({e}), 12, '0'))::uuid");
    let dept =
        |e: &str| format!("('d0000000-0000-4000-8000-' || lpad(to_hex({e}), 12, '0'))::uuid");
    let course =
        |e: &str| format!("('c0000000-0000-4000-8000-' || lpad(to_hex({e}), 12, '0'))::uuid");
    let skill =
        |e: &str| format!("('50000000-0000-4000-8000-' || lpad(to_hex({e}), 12, '0'))::uuid");
    let (u_i, d_i, d_dep, c_i, c_course, s_i, s_skill) = (
        uid("i"),
        dept("i"),
        dept("1 + i % 10"),
        course("i"),
        course("1 + (i + k) % 20"),
        skill("i"),
        skill("1 + (c + k) % 30"),
    );
    let heavy = HEAVY;
    let steps = [
        ("catalogue", format!(
            "INSERT INTO organizations (id, name, settings) VALUES ('{ORG}', 'Analytics Bench', '{{\"lesson_target_per_week\": 5}}');
             INSERT INTO departments (id, organization_id, kind, name)
               SELECT {d_i}, '{ORG}', 'department', 'Department ' || i FROM generate_series(1, 10) i;
             INSERT INTO courses (id, organization_id, name, expected_lessons)
               SELECT {c_i}, '{ORG}', 'Course ' || i, 20 FROM generate_series(1, 20) i;
             INSERT INTO skills (id, organization_id, name, domain)
               SELECT {s_i}, '{ORG}', 'Skill ' || i, 'domain ' || (i % 5) FROM generate_series(1, 30) i;
             INSERT INTO course_skills (course_id, skill_id)
               SELECT {course}, {s_skill} FROM generate_series(1, 20) c, generate_series(0, 2) k;
             INSERT INTO skill_prerequisites (skill_id, prerequisite_skill_id)
               SELECT {skill_next}, {skill_prev} FROM generate_series(2, 30) i;
             INSERT INTO job_role_skills (organization_id, job_role, skill_id, required_mastery)
               SELECT '{ORG}', 'analyst', {s_i}, 80 FROM generate_series(1, 8) i;
             INSERT INTO org_priority_skills (organization_id, skill_id, weight)
               SELECT '{ORG}', {s_i}, 0.5 + i / 20.0 FROM generate_series(1, 6) i;",
            course = course("c"),
            skill_next = skill("i"),
            skill_prev = skill("i - 1"),
        )),
        ("learners", format!(
            "INSERT INTO users (id, organization_id, email, full_name, department_id, job_role)
               SELECT {u_i}, '{ORG}', 'l' || i || '@bench.example', 'Learner ' || i, {d_dep}, 'analyst'
                 FROM generate_series(1, {learners}) i;
             INSERT INTO user_roles (user_id, role, organization_id) SELECT {u_i}, 'learner', '{ORG}' FROM generate_series(1, {learners}) i;
             INSERT INTO users (id, organization_id, email, full_name) VALUES ('{ADMIN}', '{ORG}', 'admin@bench.example', 'Admin');
             INSERT INTO user_roles (user_id, role, organization_id) VALUES ('{ADMIN}', 'org_admin', '{ORG}');
             INSERT INTO enrollments (user_id, course_id, organization_id, status, progress_percent, enrolled_at, last_progress_at, completed_at)
               SELECT {u_i}, {c_course}, '{ORG}',
                      CASE WHEN (i + k) % 4 = 0 THEN 'completed' ELSE 'active' END,
                      CASE WHEN (i + k) % 4 = 0 THEN 100 ELSE (i * 7 + k * 13) % 90 END,
                      now() - interval '120 days', now() - ((i + k) % 40) * interval '1 day',
                      CASE WHEN (i + k) % 4 = 0 THEN now() - ((i + k) % 30) * interval '1 day' END
                 FROM generate_series(1, {learners}) i, generate_series(0, 2) k;
             INSERT INTO user_skills (user_id, skill_id, organization_id, mastery_level, acquired_at, mastered_at, last_assessed_at)
               SELECT {u_i}, {skill_of}, '{ORG}', m, now() - interval '200 days',
                      CASE WHEN m >= 80 THEN now() - interval '100 days' END, now() - interval '10 days'
                 FROM generate_series(1, {learners}) i, generate_series(0, 3) k,
                      LATERAL (SELECT ((i * 31 + k * 17) % 100)::double precision AS m) x;",
            skill_of = skill("1 + (i + k * 7) % 30"),
        )),
        ("12 weeks of activity", format!(
            "INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at,
                                         learning_activities, lessons_completed, logins, session_seconds)
               SELECT {u_i}, (now() AT TIME ZONE 'UTC')::date - d, '{ORG}', t, t, t, 1 + (i + d) % 3, (i + d) % 2, 1, 600 * ((i + d) % 5)
                 FROM generate_series({first}, {learners}) i, generate_series(0, 83) d,
                      LATERAL (SELECT ((now() AT TIME ZONE 'UTC')::date - d)::timestamp AT TIME ZONE 'UTC' + interval '12 hours' AS t) x
                WHERE (i * 7 + d * 3) % 5 < 2;
             INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id)
               SELECT '{ORG}', 'b-' || i || '-' || d, {u_i}, 'lesson_completed', t, (t AT TIME ZONE 'UTC')::date, true, {course_of}
                 FROM generate_series({first}, {learners}) i, generate_series(0, 83) d,
                      LATERAL (SELECT ((now() AT TIME ZONE 'UTC')::date - d)::timestamp AT TIME ZONE 'UTC' + interval '12 hours' AS t) x
                WHERE (i * 7 + d * 3) % 5 < 2;
             INSERT INTO assessments (organization_id, user_id, course_id, score, graded_at, source_event_id)
               SELECT '{ORG}', {u_i}, {course_of}, (i * 13 + d * 7) % 101, now() - d * interval '1 day', 'a-' || i || '-' || d
                 FROM generate_series({first}, {learners}) i, generate_series(0, 83, 7) d;",
            first = heavy + 1,
            course_of = course("1 + (i + d) % 20"),
        )),
        ("a year for the heavy learners", format!(
            "INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at, first_learning_at,
                                         learning_activities, lessons_completed, logins, session_seconds)
               SELECT {u_i}, (now() AT TIME ZONE 'UTC')::date - d, '{ORG}', t, t + interval '1 hour', t, 10, 4, 2, 2400
                 FROM generate_series(1, {heavy}) i, generate_series(0, 364) d,
                      LATERAL (SELECT ((now() AT TIME ZONE 'UTC')::date - d)::timestamp AT TIME ZONE 'UTC' + interval '8 hours' AS t) x;
             INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity, course_id)
               SELECT '{ORG}', 'h-' || i || '-' || d || '-' || n, {u_i}, 'lesson_completed', t + n * interval '5 minutes', (t AT TIME ZONE 'UTC')::date, true, {course_of}
                 FROM generate_series(1, {heavy}) i, generate_series(0, 364) d, generate_series(0, 9) n,
                      LATERAL (SELECT ((now() AT TIME ZONE 'UTC')::date - d)::timestamp AT TIME ZONE 'UTC' + interval '8 hours' AS t) x;
             INSERT INTO assessments (organization_id, user_id, course_id, score, graded_at, source_event_id)
               SELECT '{ORG}', {u_i}, {course_of}, (d * 7 + n * 11) % 101, now() - d * interval '1 day' - n * interval '1 hour', 'ha-' || i || '-' || d || '-' || n
                 FROM generate_series(1, {heavy}) i, generate_series(0, 364) d, generate_series(0, 3) n;
             INSERT INTO user_points (user_id, organization_id, total_points, total_reached_at, level, current_streak, longest_streak, last_active_date)
               SELECT {u_i}, '{ORG}', (i * 37) % 5000, now(), 1, i % 7, i % 7, (now() AT TIME ZONE 'UTC')::date - i % 3
                 FROM generate_series(1, {learners}) i;
             ANALYZE;",
            course_of = course("1 + (i + d) % 20"),
        )),
    ];
    for (what, sql) in steps {
        let started = Instant::now();
        eprintln!("loading {what} ...");
        conn.batch_execute(&sql)
            .await
            .map_err(|e| anyhow::anyhow!("loading {what}: {e:?}"))?;
        eprintln!("loaded {what} in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
