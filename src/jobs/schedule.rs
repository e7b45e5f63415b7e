//! The jobs inside `stride serve`: each on its own interval, first right
//! after start (so a fresh install has partitions and views at once).

use tokio::task::JoinHandle;

use super::{Job, Outcome, Runner, run_once};

/// Starts every job's loop; they end with the returned handles (abort).
pub fn spawn_all(owner_url: String, runner: Runner) -> Vec<JoinHandle<()>> {
    Job::ALL
        .into_iter()
        .map(|job| {
            let (url, runner) = (owner_url.clone(), runner.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(job.interval(&runner.settings));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    run_logged(&url, job, &runner).await;
                }
            })
        })
        .collect()
}

async fn run_logged(url: &str, job: Job, runner: &Runner) {
    let started = std::time::Instant::now();
    match run_once(url, job, runner).await {
        Ok(Outcome::Ran { rows, detail }) => tracing::info!(
            job = job.name(),
            rows,
            duration_ms = started.elapsed().as_millis() as u64,
            "{detail}"
        ),
        Ok(Outcome::Skipped) => {
            tracing::debug!(job = job.name(), "another replica is running it")
        }
        // The error text is the database's; it holds no secrets (the URL
        // is never part of it).
        Err(err) => tracing::warn!(
            job = job.name(),
            error = %err,
            retry_in_s = job.interval(&runner.settings).as_secs(),
            "job failed; it runs again next interval"
        ),
    }
}
