//! `assessments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::assessments;

#[derive(Debug, Insertable)]
#[diesel(table_name = assessments)]
pub struct NewAssessment<'a> {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub assessment_ref: &'a str,
    pub score: f64,
    pub graded_at: DateTime<Utc>,
    pub source_event_id: &'a str,
}
