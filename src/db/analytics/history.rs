//! The analytics history table (`api::analytics::history` computes what
//! goes in it): one row per organization, analytic and week.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{analytics_history, organizations};

/// Every organization with its time zone name, by id.
pub async fn organizations(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(Uuid, String)>> {
    organizations::table
        .select((organizations::id, organizations::time_zone))
        .order(organizations::id)
        .load(conn)
        .await
}

/// Writes (or rewrites) the organization-wide row of `kind` for the week
/// starting `week`; returns the rows written.
pub async fn put_week(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    kind: &str,
    week: NaiveDate,
    result: serde_json::Value,
) -> QueryResult<usize> {
    diesel::insert_into(analytics_history::table)
        .values((
            analytics_history::organization_id.eq(org),
            analytics_history::kind.eq(kind),
            analytics_history::granularity.eq("week"),
            analytics_history::bucket_start.eq(week),
            analytics_history::result.eq(result),
        ))
        // The unique key is (organization, kind, granularity, bucket,
        // department) with NULLS NOT DISTINCT: organization-wide rows too.
        .on_conflict((
            analytics_history::organization_id,
            analytics_history::kind,
            analytics_history::granularity,
            analytics_history::bucket_start,
            analytics_history::department_id,
        ))
        .do_update()
        .set((
            analytics_history::result.eq(excluded(analytics_history::result)),
            analytics_history::computed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}
