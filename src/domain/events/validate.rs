//! [`validate`]: a [`RawEvent`] checked field by field into a
//! [`ValidEvent`], or every problem found with its field path.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ValidEvent;
use super::{EARLIEST_DAY, MAX_CLOCK_SKEW, MAX_SESSION, Payload, RawEvent, RawPayload, Stamp};
use crate::domain::{FieldViolation, has_nul};

const MAX_EVENT_ID: usize = 128;
const MAX_TEXT: usize = 200;

/// Checks an event's envelope and payload against `now` (the server clock):
/// every problem found, with its field path, or the typed event.
pub fn validate(event: &RawEvent, now: DateTime<Utc>) -> Result<ValidEvent, Vec<FieldViolation>> {
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
    let occurred_at = occurred_at(event.occurred_at, now, &mut bad);
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
    at: Stamp,
    now: DateTime<Utc>,
    bad: &mut Vec<FieldViolation>,
) -> Option<DateTime<Utc>> {
    let at = match at {
        Stamp::At(at) => at,
        Stamp::Missing => {
            bad.push(FieldViolation::new("occurred_at", "is required"));
            return None;
        }
        Stamp::Invalid => {
            bad.push(FieldViolation::new(
                "occurred_at",
                "is not a valid timestamp",
            ));
            return None;
        }
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
    p: &RawPayload,
    user_id: Option<Uuid>,
    bad: &mut Vec<FieldViolation>,
) -> Option<Payload> {
    use RawPayload as P;
    let before = bad.len();
    let typed = match p {
        P::EnrollmentCreated { course_id } => {
            required_uuid("enrollment_created.course_id", course_id, bad)
                .map(|course_id| Payload::EnrollmentCreated { course_id })
        }
        P::ProgressUpdated {
            course_id,
            progress_percent,
        } => {
            let course_id = required_uuid("progress_updated.course_id", course_id, bad);
            let progress = percent("progress_updated.progress_percent", *progress_percent, bad);
            course_id
                .zip(progress)
                .map(|(course_id, progress_percent)| Payload::ProgressUpdated {
                    course_id,
                    progress_percent,
                })
        }
        P::LessonCompleted {
            course_id,
            lesson_id,
        } => {
            let course_id = required_uuid("lesson_completed.course_id", course_id, bad);
            let lesson_id = required_uuid("lesson_completed.lesson_id", lesson_id, bad);
            course_id
                .zip(lesson_id)
                .map(|(course_id, lesson_id)| Payload::LessonCompleted {
                    course_id,
                    lesson_id,
                })
        }
        P::CourseCompleted { course_id } => {
            required_uuid("course_completed.course_id", course_id, bad)
                .map(|course_id| Payload::CourseCompleted { course_id })
        }
        P::AssessmentGraded {
            course_id,
            assessment_id,
            skill_id,
            score,
        } => {
            let course_id = required_uuid("assessment_graded.course_id", course_id, bad);
            let assessment_ref = text("assessment_graded.assessment_id", assessment_id, false, bad);
            let skill_id = optional_uuid("assessment_graded.skill_id", skill_id, bad);
            let score = percent("assessment_graded.score", *score, bad);
            course_id
                .zip(score)
                .map(|(course_id, score)| Payload::AssessmentGraded {
                    course_id,
                    assessment_ref,
                    skill_id,
                    score,
                })
        }
        P::SkillMasteryUpdated { skill_id, mastery } => {
            let skill_id = required_uuid("skill_mastery_updated.skill_id", skill_id, bad);
            let mastery = percent("skill_mastery_updated.mastery", *mastery, bad);
            skill_id
                .zip(mastery)
                .map(|(skill_id, mastery)| Payload::SkillMasteryUpdated { skill_id, mastery })
        }
        P::PracticePassed {
            exercise_id,
            course_id,
            skill_id,
        } => {
            let exercise_id = text("practice_passed.exercise_id", exercise_id, true, bad);
            let course_id = optional_uuid("practice_passed.course_id", course_id, bad);
            let skill_id = optional_uuid("practice_passed.skill_id", skill_id, bad);
            Some(Payload::PracticePassed {
                exercise_id,
                course_id,
                skill_id,
            })
        }
        P::LearningSession {
            session_id,
            started_at,
            ended_at,
        } => session(session_id, *started_at, *ended_at, bad),
        P::Login => Some(Payload::Login),
        P::PeerHelped {
            peer_user_id,
            context,
        } => {
            let peer = required_uuid("peer_helped.peer_user_id", peer_user_id, bad);
            if peer.is_some() && peer == user_id {
                bad.push(FieldViolation::new(
                    "peer_helped.peer_user_id",
                    "must be another person than user_id",
                ));
            }
            let context = text("peer_helped.context", context, false, bad);
            peer.map(|peer_user_id| Payload::PeerHelped {
                peer_user_id,
                context,
            })
        }
        P::LearningPathCompleted { path_id } => {
            required_uuid("learning_path_completed.path_id", path_id, bad)
                .map(|path_id| Payload::LearningPathCompleted { path_id })
        }
    };
    typed.filter(|_| bad.len() == before)
}

fn session(
    session_id: &str,
    started_at: Stamp,
    ended_at: Stamp,
    bad: &mut Vec<FieldViolation>,
) -> Option<Payload> {
    let session_id = text("learning_session.session_id", session_id, true, bad);
    let mut time = |field: &str, at: Stamp| match at {
        Stamp::At(t) => Some(t),
        Stamp::Missing | Stamp::Invalid => {
            bad.push(FieldViolation::new(
                field,
                "is required (a valid timestamp)",
            ));
            None
        }
    };
    let started_at = time("learning_session.started_at", started_at);
    let ended_at = time("learning_session.ended_at", ended_at);
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
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::events::Kind;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn event(payload: RawPayload) -> RawEvent {
        RawEvent {
            event_id: "evt-1".into(),
            occurred_at: Stamp::At(now() - Duration::hours(1)),
            user_id: Uuid::from_u128(1).to_string(),
            organization_id: String::new(),
            payload: Some(payload),
        }
    }

    fn graded(score: f64) -> RawEvent {
        event(RawPayload::AssessmentGraded {
            course_id: Uuid::from_u128(7).to_string(),
            assessment_id: "quiz-1".into(),
            skill_id: String::new(),
            score,
        })
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
        if let Some(RawPayload::AssessmentGraded { course_id, .. }) = &mut e.payload {
            course_id.clear();
        }
        let got = fields(validate(&e, now()));
        assert_eq!(got, ["event_id", "user_id", "assessment_graded.course_id"]);
    }

    #[test]
    fn far_future_and_zero_timestamps_are_refused() {
        let mut e = graded(50.0);
        e.occurred_at = Stamp::At(now() + Duration::hours(1));
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
        e.occurred_at = Stamp::At(now() + Duration::minutes(4));
        assert!(
            validate(&e, now()).is_ok(),
            "within the clock-skew allowance"
        );
        e.occurred_at = Stamp::At(DateTime::UNIX_EPOCH);
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
        e.occurred_at = Stamp::Invalid;
        assert_eq!(fields(validate(&e, now())), ["occurred_at"]);
        e.occurred_at = Stamp::Missing;
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
            event(RawPayload::LearningSession {
                session_id: "s".into(),
                started_at: Stamp::At(start),
                ended_at: Stamp::At(end),
            })
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
        let e = event(RawPayload::PeerHelped {
            peer_user_id: Uuid::from_u128(1).to_string(),
            context: "forum".into(),
        });
        assert_eq!(fields(validate(&e, now())), ["peer_helped.peer_user_id"]);
    }
}
