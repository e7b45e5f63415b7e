//! xAPI statements (what an LRS stores for Moodle, Open edX, cmi5 content)
//! mapped onto Stride events. Pure: people named by email are resolved, and
//! the event validated, by the caller.
//!
//! The mapping, by verb (ADL vocabulary, old and new namespace):
//! - `completed` a course: course completed; a lesson or module (or an
//!   untyped activity under a course): lesson completed; an assessment:
//!   assessment graded (needs a score).
//! - `passed`, `failed`, `scored`: assessment graded with the statement's
//!   score. Stride's pass mark (70) decides pass or fail, not
//!   `result.success`, so every producer's numbers mean the same.
//! - `attempted`: with a score, assessment graded; else enrollment created
//!   (the learner started the course).
//! - `experienced`: with `result.duration`, a learning session ending at the
//!   statement's time; with the cmi5 progress extension, progress updated.
//! - `initialized`: login (the learner opened the content).
//!
//! Stride ids are the UUID that ends an activity IRI
//! (`https://lms.example/course/<uuid>`, `urn:uuid:<uuid>`); the course of a
//! lesson or assessment is the course among `context.contextActivities`
//! parents (or grouping).

mod activities;
mod duration;
mod envelope;
mod score;
mod verbs;

use serde_json::Value;
use uuid::Uuid;

use super::FieldViolation;
use super::events::{RawEvent, Stamp};
use envelope::{actor, occurred_at, statement_id};
use verbs::{payload, verb};

pub use duration::iso8601_duration;

/// The cmi5 result extension carrying progress 0-100.
pub const CMI5_PROGRESS: &str = "https://w3id.org/xapi/cmi5/result/extensions/progress";

/// Who the statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// `account.name` holding the Stride user UUID.
    UserId(Uuid),
    /// `mbox` without `mailto:`, lower-cased (emails match case-insensitively).
    Email(String),
}

/// A statement that maps onto a Stride event. `event` has no user or
/// organization yet: the caller fills them in once the actor is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedStatement {
    /// The statement id, canonical UUID text: the event's idempotency key.
    pub statement_id: String,
    pub actor: Actor,
    pub event: RawEvent,
    /// The Stride event kind, e.g. `course_completed`.
    pub kind: &'static str,
}

/// Why a statement maps onto no event.
#[derive(Debug, Clone, PartialEq)]
pub enum XapiError {
    /// A verb Stride has no meaning for (voided, shared, ...).
    UnmappedVerb {
        statement_id: Option<String>,
        verb: String,
    },
    /// The statement lacks what its verb needs, or is malformed.
    Invalid {
        statement_id: Option<String>,
        violations: Vec<FieldViolation>,
    },
}

/// Maps one statement (as JSON) onto a Stride event.
pub fn map_statement(statement: &Value) -> Result<MappedStatement, XapiError> {
    let mut bad = Vec::new();
    let statement_id = statement_id(statement, &mut bad);
    let invalid = |statement_id: &Option<String>, violations| XapiError::Invalid {
        statement_id: statement_id.clone(),
        violations,
    };
    let verb_id = str_at(statement, &["verb", "id"]).unwrap_or_default();
    let Some(verb) = verb(verb_id) else {
        if verb_id.is_empty() {
            bad.push(FieldViolation::new("verb.id", "is required"));
            return Err(invalid(&statement_id, bad));
        }
        return Err(XapiError::UnmappedVerb {
            statement_id,
            verb: verb_id.to_string(),
        });
    };
    let actor = actor(statement, &mut bad);
    let occurred_at = occurred_at(statement, &mut bad);
    let payload = payload(verb, statement, occurred_at, &statement_id, &mut bad);
    match (statement_id, actor, occurred_at, payload) {
        (Some(id), Some(actor), Some(at), Some(payload)) if bad.is_empty() => {
            let kind = payload.kind().as_str();
            Ok(MappedStatement {
                statement_id: id.clone(),
                actor,
                event: RawEvent {
                    event_id: id,
                    occurred_at: Stamp::instant(at),
                    user_id: String::new(),
                    organization_id: String::new(),
                    payload: Some(payload),
                },
                kind,
            })
        }
        (statement_id, ..) => Err(invalid(&statement_id, bad)),
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests;
