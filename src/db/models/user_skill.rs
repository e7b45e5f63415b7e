//! `user_skills`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::user_skills;

#[derive(Debug, Insertable)]
#[diesel(table_name = user_skills)]
pub struct NewUserSkill {
    pub user_id: Uuid,
    pub skill_id: Uuid,
    pub organization_id: Uuid,
    pub mastery_level: f64,
    pub acquired_at: DateTime<Utc>,
    pub mastered_at: Option<DateTime<Utc>>,
    pub last_assessed_at: DateTime<Utc>,
}
