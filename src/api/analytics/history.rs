//! Aggregated analytics history (SPEC "Data lifecycle": kept 7 years):
//! the organization-wide analytics, recorded once per week into
//! `analytics_history`, so an organization's trends outlive the 90 days
//! its raw events are kept. Only aggregates: the same computations as the
//! RPCs, with groups under 10 people already suppressed.
//!
//! Each run records every organization's current week so far (Monday
//! 00:00 local to the run); later runs in the same week rewrite it, and
//! once the week is over its row stays as the last run inside it left it
//! (hourly by default, so a week's row misses at most its last hour).

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use serde::Serialize;
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use super::organization;
use crate::api::ApiError;
use crate::db::analytics::history as db;
use crate::db::tenant::{DbIdentity, set_identity};
use crate::domain::analytics::Kind;
use crate::domain::gamification::periods::monday_of;

/// The analytics recorded, all organization-wide.
pub const RECORDED: [Kind; 4] = [
    Kind::OrganizationVelocity,
    Kind::StrategicAlignment,
    Kind::DepartmentAnalytics,
    Kind::LearningCulture,
];

/// [`record_week`] as the history job runs it.
pub fn record_job(conn: &mut AsyncPgConnection) -> BoxFuture<'_, anyhow::Result<i64>> {
    Box::pin(async move {
        record_week(conn)
            .await
            .map_err(|err| anyhow::anyhow!("recording the analytics history: {err:?}"))
    })
}

/// Records this week's row of every recorded analytic for every
/// organization; returns the rows written. Runs inside the caller's
/// transaction (the job's), which it leaves as the platform operator.
async fn record_week(conn: &mut AsyncPgConnection) -> Result<i64, ApiError> {
    set_identity(conn, &DbIdentity::operator()).await?;
    let orgs = db::organizations(conn).await?;
    let mut rows = 0;
    for (org, zone) in orgs {
        let zone = crate::domain::zone::zone(&zone);
        // Computed as the organization's analytics reader, as the RPCs do.
        set_identity(conn, &DbIdentity::analytics(Some(org))).await?;
        let mut results = Vec::with_capacity(RECORDED.len());
        for kind in RECORDED {
            let key =
                Key::new(kind, Some(org), Subject::Organization(org)).with_params("weeks=1".into());
            let (start, result) = compute(conn, key).await?;
            // The bucket is the week the computation covered (not a clock
            // read of our own, which could fall on the other side of
            // Monday midnight).
            let week = monday_of(start.with_timezone(&zone).date_naive());
            results.push((kind, week, result));
        }
        set_identity(conn, &DbIdentity::operator()).await?;
        for (kind, week, result) in results {
            rows += store(conn, org, kind, week, result).await?;
        }
    }
    Ok(rows)
}

/// The answer as JSON, and the start of the period it covers.
async fn compute(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<(DateTime<Utc>, serde_json::Value), ApiError> {
    match key.kind {
        Kind::OrganizationVelocity => json(organization::velocity(conn, key).await?),
        Kind::StrategicAlignment => json(organization::alignment(conn, key).await?),
        Kind::DepartmentAnalytics => json(organization::departments(conn, key).await?),
        Kind::LearningCulture => json(organization::culture(conn, key).await?),
        other => Err(ApiError::Internal(format!(
            "{} is not recorded in the history",
            other.as_str()
        ))),
    }
}

fn json<T: Serialize>(
    computed: Computed<T>,
) -> Result<(DateTime<Utc>, serde_json::Value), ApiError> {
    let value = serde_json::to_value(&computed.answer)
        .map_err(|err| ApiError::Internal(format!("history answer as JSON: {err}")))?;
    Ok((computed.window.0, value))
}

async fn store(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    kind: Kind,
    week: NaiveDate,
    result: serde_json::Value,
) -> Result<i64, ApiError> {
    let written = db::put_week(conn, org, kind.as_str(), week, result).await?;
    Ok(written as i64)
}
