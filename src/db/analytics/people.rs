//! Figures about a set of people that several analytics families read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{assessments, user_points};

/// Each of `ids`'s total points (of organization `org` only, when given);
/// people without points are absent.
pub async fn total_points(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, i64>> {
    let mut query = user_points::table
        .filter(user_points::user_id.eq_any(ids))
        .select((user_points::user_id, user_points::total_points))
        .into_boxed();
    if let Some(org) = org {
        query = query.filter(user_points::organization_id.eq(org));
    }
    Ok(query.load::<(Uuid, i64)>(conn).await?.into_iter().collect())
}

/// Which assessments [`scores`] reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Graded {
    /// Of this organization only.
    pub org: Option<Uuid>,
    /// Graded at or after this instant only.
    pub since: Option<DateTime<Utc>>,
}

/// Each of `ids`'s assessment scores, as `which` says.
pub async fn scores(
    conn: &mut AsyncPgConnection,
    which: Graded,
    ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<f64>>> {
    let mut query = assessments::table
        .filter(assessments::user_id.eq_any(ids))
        .select((assessments::user_id, assessments::score))
        .into_boxed();
    if let Some(org) = which.org {
        query = query.filter(assessments::organization_id.eq(org));
    }
    if let Some(since) = which.since {
        query = query.filter(assessments::graded_at.ge(since));
    }
    Ok(query.load::<(Uuid, f64)>(conn).await?.into_iter().fold(
        HashMap::new(),
        |mut m, (u, score)| {
            m.entry(u).or_insert_with(Vec::new).push(score);
            m
        },
    ))
}
