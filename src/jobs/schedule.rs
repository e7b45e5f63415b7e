//! The jobs inside `stride serve`: each on its own interval, first right
//! after start (so a fresh install has partitions and views at once).

use tokio::task::JoinHandle;

use super::{Job, JobSettings, Outcome, run_once};

/// Starts every job's loop; they end with the returned handles (abort).
pub fn spawn_all(owner_url: String, settings: JobSettings) -> Vec<JoinHandle<()>> {
    Job::ALL
        .into_iter()
        .map(|job| {
            let (url, settings) = (owner_url.clone(), settings.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(job.interval(&settings));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    run_logged(&url, job, &settings).await;
                }
            })
        })
        .collect()
}

async fn run_logged(url: &str, job: Job, settings: &JobSettings) {
    let started = std::time::Instant::now();
    match run_once(url, job, settings).await {
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
            retry_in_s = job.interval(settings).as_secs(),
            "job failed; it runs again next interval"
        ),
    }
}
