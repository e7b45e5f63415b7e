//! `learning_events` (the raw log) and `event_receipts` (idempotency keys).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{event_receipts, learning_events};

#[derive(Debug, Insertable)]
#[diesel(table_name = learning_events)]
pub struct NewLearningEvent<'a> {
    pub organization_id: Uuid,
    pub event_id: &'a str,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub is_learning_activity: bool,
    pub course_id: Option<Uuid>,
    pub lesson_id: Option<Uuid>,
    pub skill_id: Option<Uuid>,
    pub payload: &'a serde_json::Value,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = event_receipts)]
pub struct NewEventReceipt<'a> {
    pub organization_id: Uuid,
    pub event_id: &'a str,
    pub payload_hash: Vec<u8>,
    pub kind: &'a str,
    pub user_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}
