//! Leaderboard latency, printed (not asserted): GetLeaderboard top 10 plus
//! the caller's own rank, for 32 concurrent learners, over an organization
//! of 100,000 learners and 2,000,000 ledger rows; and the same SQL through
//! pgbench as the floor.
//!
//! Run: `cargo bench --bench leaderboard`. Knobs: STRIDE_BENCH_USERS
//! (100000), STRIDE_BENCH_LEDGER (2000000), STRIDE_BENCH_CALLERS (32),
//! STRIDE_BENCH_CALLS (calls per caller, 200), STRIDE_BENCH_SECONDS
//! (pgbench duration, 15).

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::{Role, Subject};
use stride::config::Limits;
use stride::proto::gamification::v1 as pb;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
use support::{Bench, authed, env_or, percentile, user};

const ORG: &str = "b0a4d000-0000-4000-8000-000000000000";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let bench = Bench::start("leaderboard").await?;
    let result = run(&bench).await;
    bench.stop();
    result
}

async fn run(bench: &Bench) -> Result<()> {
    let users = env_or("STRIDE_BENCH_USERS", 100_000);
    let ledger = env_or("STRIDE_BENCH_LEDGER", 2_000_000);
    let callers = env_or("STRIDE_BENCH_CALLERS", 32);
    let calls = env_or("STRIDE_BENCH_CALLS", 200);
    let seconds = env_or("STRIDE_BENCH_SECONDS", 15);
    load(&bench.owner_url, users, ledger).await?;

    let keys = support::keys();
    let tokens: Vec<String> = (0..callers)
        .map(|c| {
            let subject = Subject::User {
                user_id: user(1 + (c * 7919) % users),
                org_id: ORG.parse().expect("uuid"),
                roles: vec![Role::Learner],
                active: Some(Role::Learner),
            };
            keys.issue(&subject, Duration::from_secs(3600)).map(|t| t.0)
        })
        .collect::<Result<_, _>>()?;
    let channel = bench.serve(keys, Limits::default()).await?;
    println!(
        "leaderboard benchmark: {users} learners, {ledger} ledger rows, {callers} concurrent callers, top 10 + own rank, 2 cores"
    );
    for period in [pb::LeaderboardPeriod::Week, pb::LeaderboardPeriod::AllTime] {
        let mut latencies = Vec::new();
        let started = Instant::now();
        let tasks: Vec<_> = tokens
            .iter()
            .map(|token| {
                let mut client = GamificationServiceClient::new(channel.clone());
                let token = token.clone();
                tokio::spawn(async move {
                    let mut own = Vec::with_capacity(calls);
                    for _ in 0..calls {
                        let request = pb::GetLeaderboardRequest {
                            period: period as i32,
                            ..Default::default()
                        };
                        let t = Instant::now();
                        let reply = client.get_leaderboard(authed(request, &token)).await?;
                        own.push(t.elapsed().as_micros() as u64);
                        anyhow::ensure!(reply.get_ref().entries.len() == 10, "a full top 10");
                    }
                    Ok::<_, anyhow::Error>(own)
                })
            })
            .collect();
        for task in tasks {
            latencies.extend(task.await??);
        }
        let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "stride  {:<8} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  {rate:>7.0} calls/s ({} calls)",
            format!("{period:?}"),
            ms(percentile(&mut latencies, 50.0)),
            ms(percentile(&mut latencies, 95.0)),
            ms(percentile(&mut latencies, 99.0)),
            latencies.len()
        );
    }
    for (name, script) in [
        ("Week", week_script(users)),
        ("AllTime", all_time_script(users)),
    ] {
        let path = bench.file(&format!("{name}.sql"));
        std::fs::write(&path, script)?;
        let mut run = support::pgbench(bench, &path, callers, seconds, true)?;
        println!(
            "pgbench {name:<8} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  {:>7.0} tx/s (the same SQL, the floor)",
            ms(percentile(&mut run.latencies_us, 50.0)),
            ms(percentile(&mut run.latencies_us, 95.0)),
            ms(percentile(&mut run.latencies_us, 99.0)),
            run.tps
        );
    }
    Ok(())
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One organization in Berlin time, `users` learners (5% anonymous, 2%
/// hidden), `ledger` awards over the last 60 days, and the `user_points`
/// rows ingestion would have kept, all generated in SQL.
async fn load(owner_url: &str, users: usize, ledger: usize) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    let uid = "('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid";
    let steps = [
        ("organization and learners", format!(
            "INSERT INTO organizations (id, name, time_zone) VALUES ('{ORG}', 'Board Bench', 'Europe/Berlin');
             INSERT INTO users (id, organization_id, email, full_name)
               SELECT {uid}, '{ORG}', 'u' || i || '@bench.example', 'Learner ' || i FROM generate_series(1, {users}) i;
             INSERT INTO user_roles (user_id, role, organization_id)
               SELECT {uid}, 'learner', '{ORG}' FROM generate_series(1, {users}) i;
             INSERT INTO user_preferences (user_id, organization_id, leaderboard_privacy)
               SELECT {uid}, '{ORG}', CASE WHEN i % 50 = 0 THEN 'hidden' ELSE 'anonymous' END
                 FROM generate_series(1, {users}) i WHERE i % 20 = 0 OR i % 50 = 0;"
        )),
        ("ledger rows", format!(
            "INSERT INTO point_transactions (organization_id, user_id, rule_id, rule_version, source_key, occurred_at, local_date, points_awarded)
               SELECT '{ORG}', ('00000000-0000-4000-8000-' || lpad(to_hex(1 + (g * 2654435761) % {users}), 12, '0'))::uuid,
                      'assessment_graded', 1, 'bench-' || g, t, (t AT TIME ZONE 'UTC')::date, (g * 7919) % 101
                 FROM generate_series(1::bigint, {ledger}) g,
                      LATERAL (SELECT now() - ((g * 40503) % 5184000) * interval '1 second' AS t) x;"
        )),
        ("user_points", format!(
            "WITH bounds AS (
                SELECT date_trunc('week', now() AT TIME ZONE 'Europe/Berlin')::date AS w,
                       date_trunc('month', now() AT TIME ZONE 'Europe/Berlin')::date AS m)
             INSERT INTO user_points (user_id, organization_id, total_points, total_reached_at, level,
                                      week_start, week_points, week_reached_at, month_start, month_points, month_reached_at)
             SELECT pt.user_id, '{ORG}', sum(pt.points_awarded), max(pt.occurred_at) FILTER (WHERE pt.points_awarded > 0), 1,
                    b.w, coalesce(sum(pt.points_awarded) FILTER (WHERE pt.occurred_at >= b.w::timestamp AT TIME ZONE 'Europe/Berlin'), 0),
                    max(pt.occurred_at) FILTER (WHERE pt.points_awarded > 0 AND pt.occurred_at >= b.w::timestamp AT TIME ZONE 'Europe/Berlin'),
                    b.m, coalesce(sum(pt.points_awarded) FILTER (WHERE pt.occurred_at >= b.m::timestamp AT TIME ZONE 'Europe/Berlin'), 0),
                    max(pt.occurred_at) FILTER (WHERE pt.points_awarded > 0 AND pt.occurred_at >= b.m::timestamp AT TIME ZONE 'Europe/Berlin')
               FROM point_transactions pt CROSS JOIN bounds b
              GROUP BY pt.user_id, b.w, b.m;
             ANALYZE;"
        )),
    ];
    for (what, sql) in steps {
        let started = Instant::now();
        eprintln!("loading {what} ...");
        conn.batch_execute(&sql)
            .await
            .with_context(|| format!("loading {what}"))?;
        eprintln!("loaded {what} in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The statements GetLeaderboard runs for a learner on the current week,
/// as one transaction: identity, the organization's zone, page, own row,
/// the three counts in one scan, names.
fn week_script(users: usize) -> String {
    board_script(
        users,
        "week_points",
        "week_reached_at",
        "AND week_start = date_trunc('week', now() AT TIME ZONE 'Europe/Berlin')::date",
    )
}

fn all_time_script(users: usize) -> String {
    board_script(users, "total_points", "total_reached_at", "")
}

fn board_script(users: usize, points: &str, reached: &str, period: &str) -> String {
    let ranked = format!(
        "FROM tenant_board_points WHERE on_board AND organization_id = '{ORG}' {period} AND {points} > 0"
    );
    format!(
        r#"\set u random(1, {users})
BEGIN;
SELECT set_config('stride.user_id', '00000000-0000-4000-8000-' || lpad(to_hex((:u)::bigint), 12, '0'), true), set_config('stride.org_id', '{ORG}', true), set_config('stride.role', 'learner', true);
SELECT time_zone FROM organizations WHERE id = '{ORG}';
SELECT user_id, {points}, {reached} {ranked} ORDER BY {points} DESC, {reached}, user_id LIMIT 10;
SELECT on_board, total_points, week_start, week_points FROM tenant_board_points WHERE user_id = ('00000000-0000-4000-8000-' || lpad(to_hex((:u)::bigint), 12, '0'))::uuid;
SELECT count(*), count(*) FILTER (WHERE {points} > 500), count(*) FILTER (WHERE {points} < 500) {ranked};
SELECT user_id, leaderboard_privacy, display_name FROM tenant_board_names WHERE user_id IN ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002');
COMMIT;
"#
    )
}
