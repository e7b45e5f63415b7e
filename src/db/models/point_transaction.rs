//! The points ledger as people read it (`db::gamification` writes it).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::point_transactions;

/// One ledger entry.
#[derive(Debug, Queryable)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub rule_id: String,
    pub rule_version: i32,
    pub source_key: String,
    pub points_awarded: i32,
    pub points_capped: i32,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
}

/// Up to `size` of the person's entries, newest first, after the
/// (occurred at, id) of the previous page's last one.
pub async fn ledger_page(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    size: i64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> QueryResult<Vec<LedgerEntry>> {
    let mut query = point_transactions::table
        .filter(point_transactions::user_id.eq(user))
        .select((
            point_transactions::id,
            point_transactions::rule_id,
            point_transactions::rule_version,
            point_transactions::source_key,
            point_transactions::points_awarded,
            point_transactions::points_capped,
            point_transactions::occurred_at,
            point_transactions::local_date,
        ))
        .order((
            point_transactions::occurred_at.desc(),
            point_transactions::id.desc(),
        ))
        .limit(size)
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            point_transactions::occurred_at
                .lt(at)
                .or(point_transactions::occurred_at
                    .eq(at)
                    .and(point_transactions::id.lt(id))),
        );
    }
    query.load(conn).await
}
