//! Background jobs: materialized-view refreshes, retention, partition
//! upkeep and the aggregated analytics history. Each run is one transaction as the database owner (they need
//! ownership: REFRESH, DROP of partitions) that first takes a
//! transaction-scoped advisory lock named after the job: of several
//! replicas, one runs a job at a time and the others skip that round; a
//! replica that dies mid-run rolls back, leaving nothing half done.
//! `stride serve` schedules them; `stride jobs run NAME` runs one (cron).

mod leader;
mod schedule;
mod work;

pub use leader::{Outcome, run_once};
pub use schedule::spawn_all;

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;

pub use crate::config::JobSettings;

/// Records this week's organization-wide analytics; returns the rows
/// written. The analytics are the API's answers (`api::analytics`), which
/// sit above the jobs: the service hands the recorder in
/// (`server::job_runner`) instead of the jobs importing the API.
pub type RecordHistory =
    for<'c> fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, anyhow::Result<i64>>;

/// What every job runs with: the settings, and the work handed in from above.
#[derive(Clone)]
pub struct Runner {
    pub settings: JobSettings,
    pub record_history: RecordHistory,
}

/// The jobs, by the names `stride jobs run` and `job_runs` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Job {
    /// REFRESH the weekly, monthly and all-time leaderboard views.
    RefreshLeaderboards,
    /// REFRESH skill_demand_aggregates.
    RefreshSkillDemand,
    /// Delete expired and over-age analytics, drop old event partitions.
    Retention,
    /// Create the coming months' partitions.
    Partitions,
    /// Record this week's organization-wide analytics in analytics_history.
    RecordHistory,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::Partitions,
        Job::RefreshLeaderboards,
        Job::RefreshSkillDemand,
        Job::Retention,
        Job::RecordHistory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::RefreshLeaderboards => "refresh_leaderboards",
            Job::RefreshSkillDemand => "refresh_skill_demand",
            Job::Retention => "retention",
            Job::Partitions => "partitions",
            Job::RecordHistory => "record_history",
        }
    }

    /// How often `stride serve` runs it.
    pub fn interval(self, s: &JobSettings) -> Duration {
        Duration::from_secs(
            match self {
                Job::RefreshLeaderboards => s.leaderboard_refresh_s,
                Job::RefreshSkillDemand => s.skill_demand_refresh_s,
                Job::Retention => s.retention_interval_s,
                Job::Partitions => s.partitions_interval_s,
                Job::RecordHistory => s.history_interval_s,
            }
            .max(1),
        )
    }
}
