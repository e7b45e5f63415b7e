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

/// Retention and schedule settings (SPEC "Data lifecycle").
#[derive(clap::Args, Debug, Clone)]
pub struct JobSettings {
    /// Run the background jobs inside `stride serve` (false: an operator
    /// runs `stride jobs run` from cron instead).
    #[arg(long = "jobs", env = "STRIDE_JOBS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// Seconds between leaderboard view refreshes.
    #[arg(long, env = "STRIDE_LEADERBOARD_REFRESH_S", default_value_t = 300)]
    pub leaderboard_refresh_s: u64,
    /// Seconds between skill-demand refreshes.
    #[arg(long, env = "STRIDE_SKILL_DEMAND_REFRESH_S", default_value_t = 86_400)]
    pub skill_demand_refresh_s: u64,
    /// Seconds between retention sweeps.
    #[arg(long, env = "STRIDE_RETENTION_INTERVAL_S", default_value_t = 3_600)]
    pub retention_interval_s: u64,
    /// Seconds between partition upkeep runs.
    #[arg(long, env = "STRIDE_PARTITIONS_INTERVAL_S", default_value_t = 86_400)]
    pub partitions_interval_s: u64,
    /// Seconds between recordings of the week's aggregated analytics.
    #[arg(long, env = "STRIDE_HISTORY_INTERVAL_S", default_value_t = 3_600)]
    pub history_interval_s: u64,
    /// Days activity events (learning_events) are kept.
    #[arg(long, env = "STRIDE_RETAIN_EVENTS_DAYS", default_value_t = 90)]
    pub retain_events_days: u32,
    /// Days a personal analytics answer is kept (even unexpired).
    #[arg(long, env = "STRIDE_RETAIN_PERSONAL_CACHE_DAYS", default_value_t = 7)]
    pub retain_personal_cache_days: u32,
    /// Hours a predictive answer is kept.
    #[arg(
        long,
        env = "STRIDE_RETAIN_PREDICTIVE_CACHE_HOURS",
        default_value_t = 48
    )]
    pub retain_predictive_cache_hours: u32,
    /// Years aggregated analytics (analytics_history) are kept.
    #[arg(long, env = "STRIDE_RETAIN_AGGREGATES_YEARS", default_value_t = 7)]
    pub retain_aggregates_years: u32,
    /// Months of partitions created ahead of time.
    #[arg(long, env = "STRIDE_PARTITIONS_AHEAD_MONTHS", default_value_t = 3)]
    pub partitions_ahead_months: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            leaderboard_refresh_s: 300,
            skill_demand_refresh_s: 86_400,
            retention_interval_s: 3_600,
            partitions_interval_s: 86_400,
            history_interval_s: 3_600,
            retain_events_days: 90,
            retain_personal_cache_days: 7,
            retain_predictive_cache_hours: 48,
            retain_aggregates_years: 7,
            partitions_ahead_months: 3,
        }
    }
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
