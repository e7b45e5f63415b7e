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

/// SHA-256 of the canonical JSON of a payload (serde_json sorts object
/// keys), the fingerprint that tells a duplicate from a conflict.
pub fn payload_hash(payload: &serde_json::Value) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(payload.to_string().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::payload_hash;

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":3}"#).unwrap();
        assert_eq!(payload_hash(&a), payload_hash(&b));
        assert_ne!(payload_hash(&a), payload_hash(&c));
        assert_eq!(payload_hash(&a).len(), 32);
    }
}
