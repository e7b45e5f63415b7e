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
