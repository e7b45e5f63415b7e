//! Protobuf messages of `EventService` as the domain's types: events as
//! [`RawEvent`]s (then validated by `domain::events`), xAPI statements
//! (`google.protobuf.Struct`) as JSON for `domain::xapi`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

use crate::api::timestamp::timestamp;
use crate::domain::FieldViolation;
use crate::domain::events::{self, RawEvent, RawPayload, Stamp, ValidEvent};
use crate::proto::events::v1 as pb;

/// Checks a received event against `now` (the server clock), as
/// [`events::validate`] does: every problem found, with its field path, or
/// the typed event.
pub fn validate(event: &pb::Event, now: DateTime<Utc>) -> Result<ValidEvent, Vec<FieldViolation>> {
    events::validate(&raw_event(event), now)
}

/// An event message as the domain's unchecked event, field for field.
pub fn raw_event(event: &pb::Event) -> RawEvent {
    RawEvent {
        event_id: event.event_id.clone(),
        occurred_at: stamp(event.occurred_at.as_ref()),
        user_id: event.user_id.clone(),
        organization_id: event.organization_id.clone(),
        payload: event.payload.as_ref().map(raw_payload),
    }
}

fn raw_payload(payload: &pb::event::Payload) -> RawPayload {
    use pb::event::Payload as P;
    match payload {
        P::EnrollmentCreated(e) => RawPayload::EnrollmentCreated {
            course_id: e.course_id.clone(),
        },
        P::ProgressUpdated(e) => RawPayload::ProgressUpdated {
            course_id: e.course_id.clone(),
            progress_percent: e.progress_percent,
        },
        P::LessonCompleted(e) => RawPayload::LessonCompleted {
            course_id: e.course_id.clone(),
            lesson_id: e.lesson_id.clone(),
        },
        P::CourseCompleted(e) => RawPayload::CourseCompleted {
            course_id: e.course_id.clone(),
        },
        P::AssessmentGraded(e) => RawPayload::AssessmentGraded {
            course_id: e.course_id.clone(),
            assessment_id: e.assessment_id.clone(),
            skill_id: e.skill_id.clone(),
            score: e.score,
        },
        P::SkillMasteryUpdated(e) => RawPayload::SkillMasteryUpdated {
            skill_id: e.skill_id.clone(),
            mastery: e.mastery,
        },
        P::PracticePassed(e) => RawPayload::PracticePassed {
            exercise_id: e.exercise_id.clone(),
            course_id: e.course_id.clone(),
            skill_id: e.skill_id.clone(),
        },
        P::LearningSession(e) => RawPayload::LearningSession {
            session_id: e.session_id.clone(),
            started_at: stamp(e.started_at.as_ref()),
            ended_at: stamp(e.ended_at.as_ref()),
        },
        P::Login(_) => RawPayload::Login,
        P::PeerHelped(e) => RawPayload::PeerHelped {
            peer_user_id: e.peer_user_id.clone(),
            context: e.context.clone(),
        },
        P::LearningPathCompleted(e) => RawPayload::LearningPathCompleted {
            path_id: e.path_id.clone(),
        },
    }
}

/// A timestamp field: unset, out of range, or an instant.
fn stamp(at: Option<&prost_types::Timestamp>) -> Stamp {
    match at {
        None => Stamp::Missing,
        Some(at) => timestamp(at).map_or(Stamp::Invalid, Stamp::At),
    }
}

/// A protobuf `Struct` (how gRPC carries JSON) as serde JSON.
pub fn struct_to_json(s: &prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect::<Map<_, _>>(),
    )
}

fn value_to_json(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind as K;
    match &v.kind {
        None | Some(K::NullValue(_)) => Value::Null,
        Some(K::BoolValue(b)) => Value::Bool(*b),
        Some(K::NumberValue(n)) => Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Some(K::StringValue(s)) => Value::String(s.clone()),
        Some(K::ListValue(list)) => Value::Array(list.values.iter().map(value_to_json).collect()),
        Some(K::StructValue(s)) => struct_to_json(s),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::api::timestamp::to_timestamp;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn fields(event: &pb::Event) -> Vec<String> {
        validate(event, now())
            .expect_err("should be invalid")
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn an_event_message_becomes_the_same_raw_event() {
        let at = now() - Duration::hours(1);
        let event = pb::Event {
            event_id: "evt-1".into(),
            occurred_at: Some(to_timestamp(at)),
            user_id: Uuid::from_u128(1).to_string(),
            organization_id: Uuid::from_u128(2).to_string(),
            payload: Some(pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
                course_id: Uuid::from_u128(7).to_string(),
                assessment_id: "quiz-1".into(),
                skill_id: Uuid::from_u128(8).to_string(),
                score: 85.5,
            })),
        };
        assert_eq!(
            raw_event(&event),
            RawEvent {
                event_id: "evt-1".into(),
                occurred_at: Stamp::At(at),
                user_id: Uuid::from_u128(1).to_string(),
                organization_id: Uuid::from_u128(2).to_string(),
                payload: Some(RawPayload::AssessmentGraded {
                    course_id: Uuid::from_u128(7).to_string(),
                    assessment_id: "quiz-1".into(),
                    skill_id: Uuid::from_u128(8).to_string(),
                    score: 85.5,
                }),
            }
        );
        assert!(validate(&event, now()).is_ok());
    }

    #[test]
    fn unset_and_out_of_range_timestamps_are_told_apart() {
        let mut event = pb::Event {
            event_id: "evt-1".into(),
            occurred_at: None,
            user_id: Uuid::from_u128(1).to_string(),
            organization_id: String::new(),
            payload: Some(pb::event::Payload::Login(pb::Login {})),
        };
        assert_eq!(raw_event(&event).occurred_at, Stamp::Missing);
        assert_eq!(fields(&event), ["occurred_at"]);
        event.occurred_at = Some(prost_types::Timestamp {
            seconds: 1_800_000_000,
            nanos: 1_000_000_000,
        });
        assert_eq!(raw_event(&event).occurred_at, Stamp::Invalid);
        assert_eq!(fields(&event), ["occurred_at"]);
        event.payload = Some(pb::event::Payload::LearningSession(pb::LearningSession {
            session_id: "s".into(),
            started_at: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            ended_at: None,
        }));
        event.occurred_at = Some(to_timestamp(now()));
        assert_eq!(
            fields(&event),
            ["learning_session.started_at", "learning_session.ended_at"]
        );
    }

    #[test]
    fn struct_round_trips_to_json() {
        use prost_types::value::Kind as K;
        let s = prost_types::Struct {
            fields: [
                (
                    "a".to_string(),
                    prost_types::Value {
                        kind: Some(K::NumberValue(1.5)),
                    },
                ),
                (
                    "b".to_string(),
                    prost_types::Value {
                        kind: Some(K::ListValue(prost_types::ListValue {
                            values: vec![
                                prost_types::Value {
                                    kind: Some(K::BoolValue(true)),
                                },
                                prost_types::Value {
                                    kind: Some(K::NumberValue(f64::NAN)),
                                },
                            ],
                        })),
                    },
                ),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(struct_to_json(&s), json!({ "a": 1.5, "b": [true, null] }));
    }
}
