//! `enrollments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::enrollments;

#[derive(Debug, Insertable)]
#[diesel(table_name = enrollments)]
pub struct NewEnrollment<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Uuid,
    pub organization_id: Uuid,
    pub status: &'a str,
    pub progress_percent: f64,
    pub enrolled_at: DateTime<Utc>,
    pub last_progress_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// An enrollment as the catalogue upserts it; status and progress are
/// left to ingestion (their column defaults on insert).
#[derive(Debug, Insertable)]
#[diesel(table_name = enrollments)]
pub struct CatalogEnrollment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Uuid,
    pub organization_id: Uuid,
    pub enrolled_at: DateTime<Utc>,
}

impl CatalogEnrollment {
    /// Catalogue upsert by (user, course), the enrollment's natural key:
    /// ingestion may have created the row from an event, under another id.
    /// The stored row keeps its id, and `enrolled_at` becomes the earlier of
    /// the stored and the given time (only an earlier time changes it).
    /// Returns `((user, course), inserted)` of the rows inserted or changed.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<((Uuid, Uuid), bool)>> {
        super::catalog_upsert!(conn, enrollments, rows,
            key: (enrollments::user_id, enrollments::course_id),
            guard: enrollments::organization_id
                .eq(excluded(enrollments::organization_id))
                .and(excluded(enrollments::enrolled_at).lt(enrollments::enrolled_at)),
            set: [enrolled_at],
            returning: (enrollments::user_id, enrollments::course_id))
    }

    /// The visible enrollments among `ids` as (id, user, course).
    pub async fn keys(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, Uuid, Uuid)>> {
        enrollments::table
            .filter(enrollments::id.eq_any(ids))
            .select((
                enrollments::id,
                enrollments::user_id,
                enrollments::course_id,
            ))
            .load(conn)
            .await
    }
}
