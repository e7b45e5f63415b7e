//! The demo's records as plain data: the rows the writer inserts, the events
//! it publishes, and what the simulation keeps beside them.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Role;

#[derive(Debug, Clone)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub time_zone: String,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub id: Uuid,
    pub org_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: &'static str,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub time_zone: String,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<String>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone)]
pub struct Skill {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub level: &'static str,
}

#[derive(Debug, Clone)]
pub struct Course {
    pub id: Uuid,
    pub org_id: Uuid,
    pub trainer_id: Uuid,
    pub name: String,
    pub lessons: Vec<Uuid>,
    /// (skill, required mastery)
    pub skills: Vec<(Uuid, i16)>,
}

#[derive(Debug, Clone)]
pub struct LearningPath {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub courses: Vec<Uuid>,
}

/// A learner's enrollment in a course (the rest of it is in its events).
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One learning event as an upstream service would publish it.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: String,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub kind: &'static str,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub course_id: Option<Uuid>,
    pub lesson_id: Option<Uuid>,
    pub skill_id: Option<Uuid>,
    pub payload: Value,
}

/// A graded attempt at a course's final assessment (the rest of it is in
/// its `assessment_graded` event).
#[derive(Debug, Clone)]
pub struct Assessment {
    pub score: f64,
}
