//! One run of one job: the advisory lock, the work, and its `job_runs` row,
//! in one transaction.

use std::time::Instant;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager,
};

use super::{Job, Runner, work};

/// What became of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: rows affected and what was done, for the log.
    Ran { rows: i64, detail: String },
    /// Another replica holds the job's lock: this round is theirs.
    Skipped,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Runs `job` once as the owner at `owner_url`, unless another process is
/// running it. An error rolls everything back and is recorded in job_runs.
pub async fn run_once(owner_url: &str, job: Job, runner: &Runner) -> anyhow::Result<Outcome> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    let started = Instant::now();
    AnsiTransactionManager::begin_transaction(&mut conn).await?;
    let result = locked_run(&mut conn, job, runner, started).await;
    match result {
        Ok(outcome) => {
            AnsiTransactionManager::commit_transaction(&mut conn).await?;
            Ok(outcome)
        }
        Err(err) => {
            let _ = AnsiTransactionManager::rollback_transaction(&mut conn).await;
            let _ = record_error(&mut conn, job, &err.to_string()).await;
            Err(err)
        }
    }
}

async fn locked_run(
    conn: &mut AsyncPgConnection,
    job: Job,
    runner: &Runner,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let lock: Locked = diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('stride.job:' || $1, 0)) AS locked",
    )
    .bind::<Text, _>(job.name())
    .get_result(conn)
    .await?;
    if !lock.locked {
        return Ok(Outcome::Skipped);
    }
    let (rows, detail) = work::run(conn, job, runner).await?;
    let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    diesel::sql_query(
        "INSERT INTO job_runs (job_name, last_started_at, last_finished_at, last_success_at, last_duration_ms, rows_affected)
         VALUES ($1, now() - $2 * interval '1 millisecond', clock_timestamp(), clock_timestamp(), $2, $3)
         ON CONFLICT (job_name) DO UPDATE SET last_started_at = excluded.last_started_at,
             last_finished_at = excluded.last_finished_at, last_success_at = excluded.last_success_at,
             last_duration_ms = excluded.last_duration_ms, rows_affected = excluded.rows_affected",
    )
    .bind::<Text, _>(job.name())
    .bind::<BigInt, _>(ms)
    .bind::<BigInt, _>(rows.max(0))
    .execute(conn)
    .await?;
    Ok(Outcome::Ran { rows, detail })
}

/// Best effort, outside the rolled-back transaction.
async fn record_error(conn: &mut AsyncPgConnection, job: Job, error: &str) -> anyhow::Result<()> {
    let error: String = error.chars().take(1000).collect();
    diesel::sql_query(
        "INSERT INTO job_runs (job_name, last_error, last_error_at) VALUES ($1, $2, now())
         ON CONFLICT (job_name) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at",
    )
    .bind::<Text, _>(job.name())
    .bind::<Text, _>(error)
    .execute(conn)
    .await?;
    Ok(())
}
