//! Learning events as the rules see them: validated, typed, with the
//! canonical payload whose hash tells a duplicate from a conflict.
//!
//! [`validate`] checks everything an event says about itself (ids, ranges,
//! time). What needs the database (does the user exist, is the course in
//! the user's organization) is checked at ingestion against the catalogue.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{FieldViolation, has_nul};
use crate::proto::events::v1 as pb;

/// How far ahead of the server clock `occurred_at` may be: producers' clocks
/// drift a little; an event from next week is a bug, not drift.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
/// The longest learning session counted; a longer one is a producer bug
/// (a session never closed), and would dominate time-on-platform figures.
pub const MAX_SESSION: Duration = Duration::hours(24);
/// Mastery from which a skill counts as mastered (SPEC).
pub const MASTERED: f64 = 80.0;
const MAX_EVENT_ID: usize = 128;
const MAX_TEXT: usize = 200;

/// Event kinds, as stored (`learning_events.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    EnrollmentCreated,
    ProgressUpdated,
    LessonCompleted,
    CourseCompleted,
    AssessmentGraded,
    SkillMasteryUpdated,
    PracticePassed,
    LearningSession,
    Login,
    PeerHelped,
    LearningPathCompleted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::EnrollmentCreated => "enrollment_created",
            Kind::ProgressUpdated => "progress_updated",
            Kind::LessonCompleted => "lesson_completed",
            Kind::CourseCompleted => "course_completed",
            Kind::AssessmentGraded => "assessment_graded",
            Kind::SkillMasteryUpdated => "skill_mastery_updated",
            Kind::PracticePassed => "practice_passed",
            Kind::LearningSession => "learning_session",
            Kind::Login => "login",
            Kind::PeerHelped => "peer_helped",
            Kind::LearningPathCompleted => "learning_path_completed",
        }
    }

    /// SPEC "learning activity" (streak days, velocity): learning progress,
    /// not presence. Mirrors the CHECK on `learning_events`.
    pub fn is_learning_activity(self) -> bool {
        matches!(
            self,
            Kind::ProgressUpdated
                | Kind::LessonCompleted
                | Kind::CourseCompleted
                | Kind::AssessmentGraded
                | Kind::SkillMasteryUpdated
                | Kind::PracticePassed
                | Kind::LearningPathCompleted
        )
    }
}

/// The typed payload of a valid event.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    EnrollmentCreated {
        course_id: Uuid,
    },
    ProgressUpdated {
        course_id: Uuid,
        progress_percent: f64,
    },
    LessonCompleted {
        course_id: Uuid,
        lesson_id: Uuid,
    },
    CourseCompleted {
        course_id: Uuid,
    },
    AssessmentGraded {
        course_id: Uuid,
        assessment_ref: String,
        skill_id: Option<Uuid>,
        score: f64,
    },
    SkillMasteryUpdated {
        skill_id: Uuid,
        mastery: f64,
    },
    PracticePassed {
        exercise_id: String,
        course_id: Option<Uuid>,
        skill_id: Option<Uuid>,
    },
    LearningSession {
        session_id: String,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    },
    Login,
    PeerHelped {
        peer_user_id: Uuid,
        context: String,
    },
    LearningPathCompleted {
        path_id: Uuid,
    },
}

impl Payload {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::EnrollmentCreated { .. } => Kind::EnrollmentCreated,
            Payload::ProgressUpdated { .. } => Kind::ProgressUpdated,
            Payload::LessonCompleted { .. } => Kind::LessonCompleted,
            Payload::CourseCompleted { .. } => Kind::CourseCompleted,
            Payload::AssessmentGraded { .. } => Kind::AssessmentGraded,
            Payload::SkillMasteryUpdated { .. } => Kind::SkillMasteryUpdated,
            Payload::PracticePassed { .. } => Kind::PracticePassed,
            Payload::LearningSession { .. } => Kind::LearningSession,
            Payload::Login => Kind::Login,
            Payload::PeerHelped { .. } => Kind::PeerHelped,
            Payload::LearningPathCompleted { .. } => Kind::LearningPathCompleted,
        }
    }

    /// The course the event is about, if any (indexed on the raw log).
    pub fn course_id(&self) -> Option<Uuid> {
        match self {
            Payload::EnrollmentCreated { course_id }
            | Payload::ProgressUpdated { course_id, .. }
            | Payload::LessonCompleted { course_id, .. }
            | Payload::CourseCompleted { course_id }
            | Payload::AssessmentGraded { course_id, .. } => Some(*course_id),
            Payload::PracticePassed { course_id, .. } => *course_id,
            _ => None,
        }
    }

    pub fn lesson_id(&self) -> Option<Uuid> {
        match self {
            Payload::LessonCompleted { lesson_id, .. } => Some(*lesson_id),
            _ => None,
        }
    }

    pub fn skill_id(&self) -> Option<Uuid> {
        match self {
            Payload::SkillMasteryUpdated { skill_id, .. } => Some(*skill_id),
            Payload::AssessmentGraded { skill_id, .. }
            | Payload::PracticePassed { skill_id, .. } => *skill_id,
            _ => None,
        }
    }

    /// The canonical JSON stored with the event (serde_json sorts keys, so
    /// equal payloads serialize identically).
    pub fn to_json(&self) -> Value {
        let id = |u: &Uuid| Value::String(u.to_string());
        let opt = |u: &Option<Uuid>| u.as_ref().map(id).unwrap_or(Value::Null);
        match self {
            Payload::EnrollmentCreated { course_id } | Payload::CourseCompleted { course_id } => {
                json!({ "course_id": id(course_id) })
            }
            Payload::ProgressUpdated {
                course_id,
                progress_percent,
            } => json!({ "course_id": id(course_id), "progress_percent": progress_percent }),
            Payload::LessonCompleted {
                course_id,
                lesson_id,
            } => json!({ "course_id": id(course_id), "lesson_id": id(lesson_id) }),
            Payload::AssessmentGraded {
                course_id,
                assessment_ref,
                skill_id,
                score,
            } => json!({
                "course_id": id(course_id),
                "assessment_id": assessment_ref,
                "skill_id": opt(skill_id),
                "score": score,
            }),
            Payload::SkillMasteryUpdated { skill_id, mastery } => {
                json!({ "skill_id": id(skill_id), "mastery": mastery })
            }
            Payload::PracticePassed {
                exercise_id,
                course_id,
                skill_id,
            } => json!({
                "exercise_id": exercise_id,
                "course_id": opt(course_id),
                "skill_id": opt(skill_id),
            }),
            Payload::LearningSession {
                session_id,
                started_at,
                ended_at,
            } => json!({
                "session_id": session_id,
                "started_at": timestamp_text(started_at),
                "ended_at": timestamp_text(ended_at),
            }),
            Payload::Login => json!({}),
            Payload::PeerHelped {
                peer_user_id,
                context,
            } => json!({ "peer_user_id": id(peer_user_id), "context": context }),
            Payload::LearningPathCompleted { path_id } => json!({ "path_id": id(path_id) }),
        }
    }
}

/// An event that passed [`validate`].
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

/// Nanosecond-exact RFC 3339 in UTC: one text per instant.
fn timestamp_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// No event happened before this day (UTC): earlier is refused as an
/// unset or zero timestamp, so reads may start their ranges here.
pub const EARLIEST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();

/// Checks an event's envelope and payload against `now` (the server clock):
/// every problem found, with its field path, or the typed event.
pub fn validate(event: &pb::Event, now: DateTime<Utc>) -> Result<ValidEvent, Vec<FieldViolation>> {
    let mut bad = Vec::new();
    let event_id = event.event_id.trim();
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID || event_id != event.event_id {
        bad.push(FieldViolation::new(
            "event_id",
            "is required: 1-128 characters, no surrounding spaces",
        ));
    } else if has_nul(event_id) {
        bad.push(FieldViolation::nul("event_id"));
    }
    let occurred_at = occurred_at(event.occurred_at.as_ref(), now, &mut bad);
    let user_id = required_uuid("user_id", &event.user_id, &mut bad);
    let organization_id = optional_uuid("organization_id", &event.organization_id, &mut bad);
    let payload = match &event.payload {
        None => {
            bad.push(FieldViolation::new(
                "payload",
                "is required: set one of enrollment_created, progress_updated, ...",
            ));
            None
        }
        Some(p) => payload(p, user_id, &mut bad),
    };
    match (occurred_at, user_id, payload) {
        (Some(occurred_at), Some(user_id), Some(payload)) if bad.is_empty() => Ok(ValidEvent {
            event_id: event.event_id.clone(),
            occurred_at,
            user_id,
            organization_id,
            payload,
        }),
        _ => Err(bad),
    }
}

fn occurred_at(
    at: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
    bad: &mut Vec<FieldViolation>,
) -> Option<DateTime<Utc>> {
    let Some(at) = at else {
        bad.push(FieldViolation::new("occurred_at", "is required"));
        return None;
    };
    let Some(at) = timestamp(at) else {
        bad.push(FieldViolation::new(
            "occurred_at",
            "is not a valid timestamp",
        ));
        return None;
    };
    // Before 2000 is a default or zero timestamp sent by mistake.
    if at.date_naive() < EARLIEST_DAY {
        bad.push(FieldViolation::new(
            "occurred_at",
            "is before 2000-01-01: an unset or zero timestamp?",
        ));
        return None;
    }
    if at > now + MAX_CLOCK_SKEW {
        bad.push(FieldViolation::new(
            "occurred_at",
            "is in the future (more than 5 minutes ahead of the server clock)",
        ));
        return None;
    }
    Some(at)
}

/// A chrono instant as a protobuf timestamp (the reverse of [`timestamp`]).
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        // chrono gives a leap second (23:59:60, as an xAPI timestamp may
        // say) 1e9 nanoseconds and more, which protobuf does not allow: it
        // becomes the last instant of 23:59:59.
        nanos: at.timestamp_subsec_nanos().min(999_999_999) as i32,
    }
}

/// A protobuf timestamp as chrono, `None` when out of range.
pub fn timestamp(at: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(at.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(at.seconds, nanos)
}

fn required_uuid(field: &str, value: &str, bad: &mut Vec<FieldViolation>) -> Option<Uuid> {
    if value.is_empty() {
        bad.push(FieldViolation::new(field, "is required (a UUID)"));
        return None;
    }
    optional_uuid(field, value, bad)
}

fn optional_uuid(field: &str, value: &str, bad: &mut Vec<FieldViolation>) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    match Uuid::parse_str(value) {
        Ok(id) if !id.is_nil() => Some(id),
        _ => {
            bad.push(FieldViolation::new(field, "must be a UUID"));
            None
        }
    }
}

fn percent(field: &str, value: f64, bad: &mut Vec<FieldViolation>) -> Option<f64> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Some(value)
    } else {
        bad.push(FieldViolation::new(field, "must be between 0 and 100"));
        None
    }
}

fn text(field: &str, value: &str, required: bool, bad: &mut Vec<FieldViolation>) -> String {
    if (required && value.trim().is_empty()) || value.chars().count() > MAX_TEXT {
        let why = if required {
            "is required: 1-200 characters"
        } else {
            "must be at most 200 characters"
        };
        bad.push(FieldViolation::new(field, why));
    } else if has_nul(value) {
        bad.push(FieldViolation::nul(field));
    }
    value.to_string()
}

/// The typed payload, or `None` with the violations pushed to `bad`.
fn payload(
    p: &pb::event::Payload,
    user_id: Option<Uuid>,
    bad: &mut Vec<FieldViolation>,
) -> Option<Payload> {
    use pb::event::Payload as P;
    let before = bad.len();
    let typed = match p {
        P::EnrollmentCreated(e) => required_uuid("enrollment_created.course_id", &e.course_id, bad)
            .map(|course_id| Payload::EnrollmentCreated { course_id }),
        P::ProgressUpdated(e) => {
            let course_id = required_uuid("progress_updated.course_id", &e.course_id, bad);
            let progress = percent("progress_updated.progress_percent", e.progress_percent, bad);
            course_id
                .zip(progress)
                .map(|(course_id, progress_percent)| Payload::ProgressUpdated {
                    course_id,
                    progress_percent,
                })
        }
        P::LessonCompleted(e) => {
            let course_id = required_uuid("lesson_completed.course_id", &e.course_id, bad);
            let lesson_id = required_uuid("lesson_completed.lesson_id", &e.lesson_id, bad);
            course_id
                .zip(lesson_id)
                .map(|(course_id, lesson_id)| Payload::LessonCompleted {
                    course_id,
                    lesson_id,
                })
        }
        P::CourseCompleted(e) => required_uuid("course_completed.course_id", &e.course_id, bad)
            .map(|course_id| Payload::CourseCompleted { course_id }),
        P::AssessmentGraded(e) => {
            let course_id = required_uuid("assessment_graded.course_id", &e.course_id, bad);
            let assessment_ref = text(
                "assessment_graded.assessment_id",
                &e.assessment_id,
                false,
                bad,
            );
            let skill_id = optional_uuid("assessment_graded.skill_id", &e.skill_id, bad);
            let score = percent("assessment_graded.score", e.score, bad);
            course_id
                .zip(score)
                .map(|(course_id, score)| Payload::AssessmentGraded {
                    course_id,
                    assessment_ref,
                    skill_id,
                    score,
                })
        }
        P::SkillMasteryUpdated(e) => {
            let skill_id = required_uuid("skill_mastery_updated.skill_id", &e.skill_id, bad);
            let mastery = percent("skill_mastery_updated.mastery", e.mastery, bad);
            skill_id
                .zip(mastery)
                .map(|(skill_id, mastery)| Payload::SkillMasteryUpdated { skill_id, mastery })
        }
        P::PracticePassed(e) => {
            let exercise_id = text("practice_passed.exercise_id", &e.exercise_id, true, bad);
            let course_id = optional_uuid("practice_passed.course_id", &e.course_id, bad);
            let skill_id = optional_uuid("practice_passed.skill_id", &e.skill_id, bad);
            Some(Payload::PracticePassed {
                exercise_id,
                course_id,
                skill_id,
            })
        }
        P::LearningSession(e) => session(e, bad),
        P::Login(_) => Some(Payload::Login),
        P::PeerHelped(e) => {
            let peer = required_uuid("peer_helped.peer_user_id", &e.peer_user_id, bad);
            if peer.is_some() && peer == user_id {
                bad.push(FieldViolation::new(
                    "peer_helped.peer_user_id",
                    "must be another person than user_id",
                ));
            }
            let context = text("peer_helped.context", &e.context, false, bad);
            peer.map(|peer_user_id| Payload::PeerHelped {
                peer_user_id,
                context,
            })
        }
        P::LearningPathCompleted(e) => {
            required_uuid("learning_path_completed.path_id", &e.path_id, bad)
                .map(|path_id| Payload::LearningPathCompleted { path_id })
        }
    };
    typed.filter(|_| bad.len() == before)
}

fn session(e: &pb::LearningSession, bad: &mut Vec<FieldViolation>) -> Option<Payload> {
    let session_id = text("learning_session.session_id", &e.session_id, true, bad);
    let mut time = |field: &str, at: Option<&prost_types::Timestamp>| match at.and_then(timestamp) {
        Some(t) => Some(t),
        None => {
            bad.push(FieldViolation::new(
                field,
                "is required (a valid timestamp)",
            ));
            None
        }
    };
    let started_at = time("learning_session.started_at", e.started_at.as_ref());
    let ended_at = time("learning_session.ended_at", e.ended_at.as_ref());
    let (started_at, ended_at) = started_at.zip(ended_at)?;
    if ended_at < started_at {
        bad.push(FieldViolation::new(
            "learning_session.ended_at",
            "must not be before started_at",
        ));
        return None;
    }
    if ended_at - started_at > MAX_SESSION {
        bad.push(FieldViolation::new(
            "learning_session.ended_at",
            "a session lasts at most 24 hours; split longer ones",
        ));
        return None;
    }
    Some(Payload::LearningSession {
        session_id,
        started_at,
        ended_at,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn ts(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos() as i32,
        })
    }

    fn event(payload: pb::event::Payload) -> pb::Event {
        pb::Event {
            event_id: "evt-1".into(),
            occurred_at: ts(now() - Duration::hours(1)),
            user_id: Uuid::from_u128(1).to_string(),
            organization_id: String::new(),
            payload: Some(payload),
        }
    }

    fn graded(score: f64) -> pb::Event {
        event(pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
            course_id: Uuid::from_u128(7).to_string(),
            assessment_id: "quiz-1".into(),
            skill_id: String::new(),
            score,
        }))
    }

    fn fields(result: Result<ValidEvent, Vec<FieldViolation>>) -> Vec<String> {
        result
            .expect_err("should be invalid")
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_valid_assessment_is_typed() {
        let valid = validate(&graded(85.5), now()).unwrap();
        assert_eq!(valid.kind(), Kind::AssessmentGraded);
        assert_eq!(valid.payload.course_id(), Some(Uuid::from_u128(7)));
        assert!(valid.kind().is_learning_activity());
    }

    #[test]
    fn scores_outside_0_100_are_refused_with_the_field() {
        for score in [-0.1, 100.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                fields(validate(&graded(score), now())),
                ["assessment_graded.score"]
            );
        }
        assert!(validate(&graded(0.0), now()).is_ok());
        assert!(validate(&graded(100.0), now()).is_ok());
    }

    #[test]
    fn missing_ids_and_bad_uuids_are_each_reported() {
        let mut e = graded(50.0);
        e.event_id = String::new();
        e.user_id = "not-a-uuid".into();
        if let Some(pb::event::Payload::AssessmentGraded(a)) = &mut e.payload {
            a.course_id = String::new();
        }
        let got = fields(validate(&e, now()));
        assert_eq!(got, ["event_id", "user_id", "assessment_graded.course_id"]);
    }

    #[test]
    fn far_future_and_zero_timestamps_are_refused() {
        let mut e = graded(50.0);
        e.occurred_at = ts(now() + Duration::hours(1));
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
        e.occurred_at = ts(now() + Duration::minutes(4));
        assert!(
            validate(&e, now()).is_ok(),
            "within the clock-skew allowance"
        );
        e.occurred_at = Some(prost_types::Timestamp::default());
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
        e.occurred_at = None;
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
    }

    #[test]
    fn an_event_without_payload_is_refused() {
        let mut e = graded(1.0);
        e.payload = None;
        assert_eq!(fields(validate(&e, now())), ["payload"]);
    }

    #[test]
    fn sessions_must_end_after_they_start_and_last_at_most_a_day() {
        let session = |start: DateTime<Utc>, end: DateTime<Utc>| {
            event(pb::event::Payload::LearningSession(pb::LearningSession {
                session_id: "s".into(),
                started_at: ts(start),
                ended_at: ts(end),
            }))
        };
        let t = now() - Duration::days(2);
        let ok = validate(&session(t, t + Duration::minutes(30)), now()).unwrap();
        assert_eq!(ok.session_seconds(), 1800);
        assert!(!ok.kind().is_learning_activity());
        assert_eq!(
            fields(validate(&session(t, t - Duration::seconds(1)), now())),
            ["learning_session.ended_at"]
        );
        assert_eq!(
            fields(validate(&session(t, t + Duration::hours(25)), now())),
            ["learning_session.ended_at"]
        );
    }

    #[test]
    fn helping_yourself_is_not_peer_help() {
        let e = event(pb::event::Payload::PeerHelped(pb::PeerHelped {
            peer_user_id: Uuid::from_u128(1).to_string(),
            context: "forum".into(),
        }));
        assert_eq!(fields(validate(&e, now())), ["peer_helped.peer_user_id"]);
    }

    #[test]
    fn fingerprint_tells_payloads_apart_but_not_equal_events() {
        let a = validate(&graded(70.0), now()).unwrap();
        let b = validate(&graded(70.0), now()).unwrap();
        let c = validate(&graded(71.0), now()).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        let mut later = graded(70.0);
        later.occurred_at = ts(now() - Duration::minutes(30));
        assert_ne!(
            a.fingerprint(),
            validate(&later, now()).unwrap().fingerprint()
        );
        assert_eq!(a.fingerprint().len(), 32);
    }

    #[test]
    fn local_date_follows_the_persons_zone() {
        let mut e = graded(50.0);
        // 23:30 UTC on the 24th is already the 25th in Tokyo, still the 24th in New York.
        e.occurred_at = ts(Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap());
        let valid = validate(&e, now()).unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(valid.local_date(chrono_tz::Asia::Tokyo), day(2026, 11, 25));
        assert_eq!(
            valid.local_date(chrono_tz::America::New_York),
            day(2026, 11, 24)
        );
    }

    #[test]
    fn a_leap_second_becomes_the_last_instant_of_its_minute() {
        let leap = DateTime::parse_from_rfc3339("2026-06-30T23:59:60Z")
            .unwrap()
            .with_timezone(&Utc);
        let ts = to_timestamp(leap);
        assert_eq!(ts.nanos, 999_999_999);
        let back = timestamp(&ts).expect("a valid protobuf timestamp");
        assert_eq!(back.to_rfc3339(), "2026-06-30T23:59:59.999999999+00:00");
    }
}
