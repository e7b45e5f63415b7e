//! Which statement, about whom, when: the parts of a statement every verb
//! needs.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Actor, str_at};
use crate::domain::FieldViolation;

/// `id`: a UUID (xAPI requires one), canonical so a resend in other case is
/// still the same key.
pub(super) fn statement_id(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<String> {
    let raw = str_at(statement, &["id"]);
    match raw.map(Uuid::parse_str) {
        Some(Ok(id)) => Some(id.to_string()),
        Some(Err(_)) => {
            bad.push(FieldViolation::new(
                "id",
                "must be a UUID (the statement id)",
            ));
            None
        }
        None => {
            bad.push(FieldViolation::new(
                "id",
                "is required: the statement id is the idempotency key",
            ));
            None
        }
    }
}

pub(super) fn actor(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<Actor> {
    let account = str_at(statement, &["actor", "account", "name"]);
    if let Some(id) = account.and_then(|name| Uuid::parse_str(name).ok()) {
        return Some(Actor::UserId(id));
    }
    if let Some(mbox) = str_at(statement, &["actor", "mbox"]) {
        return match mbox.strip_prefix("mailto:") {
            Some(email) if email.contains('@') => Some(Actor::Email(email.to_lowercase())),
            _ => {
                bad.push(FieldViolation::new(
                    "actor.mbox",
                    "must be mailto:<email address>",
                ));
                None
            }
        };
    }
    let (field, why) = if account.is_some() {
        (
            "actor.account.name",
            "must be the Stride user UUID (or give actor.mbox)",
        )
    } else {
        (
            "actor",
            "name the person by account.name (Stride user UUID) or mbox; mbox_sha1sum and openid are not resolvable",
        )
    };
    bad.push(FieldViolation::new(field, why));
    None
}

/// `timestamp`, else `stored` (the LRS sets it when the producer did not).
pub(super) fn occurred_at(
    statement: &Value,
    bad: &mut Vec<FieldViolation>,
) -> Option<DateTime<Utc>> {
    let (field, text) = match str_at(statement, &["timestamp"]) {
        Some(t) => ("timestamp", t),
        None => match str_at(statement, &["stored"]) {
            Some(t) => ("stored", t),
            None => {
                bad.push(FieldViolation::new("timestamp", "is required"));
                return None;
            }
        },
    };
    match DateTime::parse_from_rfc3339(text) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            bad.push(FieldViolation::new(field, "must be an RFC 3339 timestamp"));
            None
        }
    }
}
