//! What each job does, as the owner, inside the run's transaction.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{Job, JobSettings, Runner};

/// The tables partitioned by month and kept up ahead of time.
const PARTITIONED: [&str; 4] = [
    "learning_events",
    "daily_activity",
    "point_transactions",
    "analytics_history",
];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `job`; returns the rows it affected and a line for the log.
pub async fn run(
    conn: &mut AsyncPgConnection,
    job: Job,
    runner: &Runner,
) -> anyhow::Result<(i64, String)> {
    let s = &runner.settings;
    match job {
        Job::RefreshLeaderboards => {
            let mut rows = 0;
            for view in [
                "leaderboard_weekly",
                "leaderboard_monthly",
                "leaderboard_all_time",
            ] {
                rows += refresh(conn, view).await?;
            }
            Ok((rows, format!("3 leaderboard views refreshed, {rows} rows")))
        }
        Job::RefreshSkillDemand => {
            let rows = refresh(conn, "skill_demand_aggregates").await?;
            Ok((
                rows,
                format!("skill_demand_aggregates refreshed, {rows} rows"),
            ))
        }
        Job::Retention => retention(conn, s).await,
        Job::RecordHistory => {
            let rows = (runner.record_history)(conn).await?;
            Ok((
                rows,
                format!("analytics history: {rows} rows for the current week"),
            ))
        }
        Job::Partitions => {
            let mut created = Vec::new();
            for table in PARTITIONED {
                let names: Vec<Name> = diesel::sql_query(
                    "SELECT stride_ensure_monthly_partitions($1::regclass, now()::date, \
                     (now() + $2 * interval '1 month')::date) AS name",
                )
                .bind::<Text, _>(table)
                .bind::<Integer, _>(i32::try_from(s.partitions_ahead_months).unwrap_or(3))
                .load(conn)
                .await?;
                created.extend(names.into_iter().map(|n| n.name));
            }
            Ok((
                created.len() as i64,
                format!("partitions created: {}", list(&created)),
            ))
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// REFRESH ... CONCURRENTLY (readers keep the old rows meanwhile); the
/// view's row count after.
async fn refresh(conn: &mut AsyncPgConnection, view: &str) -> anyhow::Result<i64> {
    // `view` is one of a fixed set of names, never input.
    diesel::sql_query(format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {view}"))
        .execute(conn)
        .await?;
    let c: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {view}"))
        .get_result(conn)
        .await?;
    Ok(c.n)
}

/// SPEC retention: the analytics cache (expired answers, personal ones
/// past 7 days, predictive past 48 h), activity events past 90 days (whole
/// monthly partitions dropped; the boundary month's and the default
/// partition's old rows deleted), aggregates past 7 years.
async fn retention(conn: &mut AsyncPgConnection, s: &JobSettings) -> anyhow::Result<(i64, String)> {
    let cache = diesel::sql_query(
        "DELETE FROM analytics_cache
          WHERE expires_at <= now()
             OR (user_id IS NOT NULL AND computed_at < now() - $1 * interval '1 day')
             OR (audience = 'predictive' AND computed_at < now() - $2 * interval '1 hour')",
    )
    .bind::<Integer, _>(i32::try_from(s.retain_personal_cache_days).unwrap_or(7))
    .bind::<Integer, _>(i32::try_from(s.retain_predictive_cache_hours).unwrap_or(48))
    .execute(conn)
    .await? as i64;
    let cutoff_days = i32::try_from(s.retain_events_days).unwrap_or(90);
    let dropped: Vec<Name> = diesel::sql_query(
        "SELECT stride_drop_monthly_partitions_before('learning_events'::regclass, \
         (now() - $1 * interval '1 day')::date) AS name",
    )
    .bind::<Integer, _>(cutoff_days)
    .load(conn)
    .await?;
    let events = diesel::sql_query(
        "DELETE FROM learning_events WHERE occurred_at < now() - $1 * interval '1 day'",
    )
    .bind::<Integer, _>(cutoff_days)
    .execute(conn)
    .await? as i64;
    let years = i32::try_from(s.retain_aggregates_years).unwrap_or(7);
    let old_aggregates: Vec<Name> = diesel::sql_query(
        "SELECT stride_drop_monthly_partitions_before('analytics_history'::regclass, \
         (now() - $1 * interval '1 year')::date) AS name",
    )
    .bind::<Integer, _>(years)
    .load(conn)
    .await?;
    let aggregates = diesel::sql_query(
        "DELETE FROM analytics_history WHERE bucket_start < (now() - $1 * interval '1 year')::date",
    )
    .bind::<Integer, _>(years)
    .execute(conn)
    .await? as i64;
    let partitions: Vec<String> = dropped
        .into_iter()
        .chain(old_aggregates)
        .map(|n| n.name)
        .collect();
    Ok((
        cache + events + aggregates,
        format!(
            "cache rows deleted: {cache}; event rows deleted: {events}; aggregate rows deleted: {aggregates}; partitions dropped: {}",
            list(&partitions)
        ),
    ))
}
