//! `daily_activity`: one row per user and local day.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::daily_activity;

#[derive(Debug, Insertable)]
#[diesel(table_name = daily_activity)]
pub struct NewDailyActivity {
    pub user_id: Uuid,
    pub local_date: NaiveDate,
    pub organization_id: Uuid,
    pub first_activity_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub learning_activities: i32,
    pub lessons_completed: i32,
    pub logins: i32,
    pub session_seconds: i32,
}
