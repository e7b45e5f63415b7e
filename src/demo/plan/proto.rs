//! A demo event in the wire form upstream services publish.

use chrono::DateTime;
use serde_json::Value;
use uuid::Uuid;

use super::Event;
use crate::proto::events::v1 as pb;

/// The event as an upstream service would publish it.
pub fn to_proto(e: &Event) -> pb::Event {
    use pb::event::Payload as P;
    let text = |k: &str| {
        e.payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = |k: &str| e.payload.get(k).and_then(Value::as_f64).unwrap_or_default();
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let time = |k: &str| {
        DateTime::parse_from_rfc3339(&text(k))
            .ok()
            .map(|t| prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })
    };
    let course_id = id(e.course_id);
    let payload = match e.kind {
        "enrollment_created" => P::EnrollmentCreated(pb::EnrollmentCreated { course_id }),
        "progress_updated" => P::ProgressUpdated(pb::ProgressUpdated {
            course_id,
            progress_percent: number("progress_percent"),
        }),
        "lesson_completed" => P::LessonCompleted(pb::LessonCompleted {
            course_id,
            lesson_id: id(e.lesson_id),
        }),
        "course_completed" => P::CourseCompleted(pb::CourseCompleted { course_id }),
        "assessment_graded" => P::AssessmentGraded(pb::AssessmentGraded {
            course_id,
            assessment_id: text("assessment_id"),
            skill_id: id(e.skill_id),
            score: number("score"),
        }),
        "skill_mastery_updated" => P::SkillMasteryUpdated(pb::SkillMasteryUpdated {
            skill_id: id(e.skill_id),
            mastery: number("mastery"),
        }),
        "practice_passed" => P::PracticePassed(pb::PracticePassed {
            exercise_id: text("exercise_id"),
            course_id,
            skill_id: id(e.skill_id),
        }),
        "learning_session" => P::LearningSession(pb::LearningSession {
            session_id: e.event_id.clone(),
            started_at: time("started_at"),
            ended_at: time("ended_at"),
        }),
        "peer_helped" => P::PeerHelped(pb::PeerHelped {
            peer_user_id: text("peer_user_id"),
            context: text("context"),
        }),
        "learning_path_completed" => P::LearningPathCompleted(pb::LearningPathCompleted {
            path_id: text("path_id"),
        }),
        _ => P::Login(pb::Login {}),
    };
    pb::Event {
        event_id: e.event_id.clone(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: e.occurred_at.timestamp(),
            nanos: e.occurred_at.timestamp_subsec_nanos() as i32,
        }),
        user_id: e.user_id.to_string(),
        organization_id: e.org_id.to_string(),
        payload: Some(payload),
    }
}
