//! An event that passed validation, and what ingestion derives from it:
//! its fingerprint, its local day, its session time.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::payload::timestamp_text;
use super::{Kind, Payload};

/// An event that passed [`validate`](super::validate).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub user_id: Uuid,
    /// The organization the event names; `None` when left empty (the
    /// token's organization applies).
    pub organization_id: Option<Uuid>,
    pub payload: Payload,
}

impl ValidEvent {
    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }

    /// SHA-256 over everything that defines the event except its id and
    /// tenant (the receipt key): kind, person, time and payload. A retry
    /// must match all of them to be a duplicate.
    pub fn fingerprint(&self) -> Vec<u8> {
        let canonical = json!({
            "kind": self.kind().as_str(),
            "user_id": self.user_id.to_string(),
            "occurred_at": timestamp_text(&self.occurred_at),
            "payload": self.payload.to_json(),
        });
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }

    /// The person's calendar day of the event in `zone`.
    pub fn local_date(&self, zone: chrono_tz::Tz) -> NaiveDate {
        self.occurred_at.with_timezone(&zone).date_naive()
    }

    /// Seconds of platform time a session event contributes.
    pub fn session_seconds(&self) -> i32 {
        match &self.payload {
            Payload::LearningSession {
                started_at,
                ended_at,
                ..
            } => i32::try_from((*ended_at - *started_at).num_seconds()).unwrap_or(i32::MAX),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn graded(score: f64, occurred_at: DateTime<Utc>) -> ValidEvent {
        ValidEvent {
            event_id: "evt-1".into(),
            occurred_at,
            user_id: Uuid::from_u128(1),
            organization_id: None,
            payload: Payload::AssessmentGraded {
                course_id: Uuid::from_u128(7),
                assessment_ref: "quiz-1".into(),
                skill_id: None,
                score,
            },
        }
    }

    #[test]
    fn fingerprint_tells_payloads_apart_but_not_equal_events() {
        let hour_ago = now() - Duration::hours(1);
        let a = graded(70.0, hour_ago);
        let b = graded(70.0, hour_ago);
        let c = graded(71.0, hour_ago);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        let later = graded(70.0, now() - Duration::minutes(30));
        assert_ne!(a.fingerprint(), later.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
    }

    #[test]
    fn local_date_follows_the_persons_zone() {
        // 23:30 UTC on the 24th is already the 25th in Tokyo, still the 24th in New York.
        let valid = graded(50.0, Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap());
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(valid.local_date(chrono_tz::Asia::Tokyo), day(2026, 11, 25));
        assert_eq!(
            valid.local_date(chrono_tz::America::New_York),
            day(2026, 11, 24)
        );
    }
}
