//! What a statement's verb means for Stride: the payload of its event.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::activities::{
    ActivityType, activity_type, course_id, object_uuid, parent_course, required_parent_course,
};
use super::duration::iso8601_duration;
use super::score::score;
use super::{CMI5_PROGRESS, str_at};
use crate::domain::FieldViolation;
use crate::domain::events::{RawPayload, Stamp};

/// Verb namespaces of the ADL vocabulary (xAPI 1.0 and the w3id one).
const ADL_VERBS: [&str; 2] = [
    "http://adlnet.gov/expapi/verbs/",
    "https://w3id.org/xapi/adl/verbs/",
];

/// The verbs Stride maps (their last IRI segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Completed,
    Passed,
    Failed,
    Scored,
    Attempted,
    Experienced,
    Initialized,
}

/// The verb of an ADL verb IRI, `None` for any other.
pub(super) fn verb(id: &str) -> Option<Verb> {
    let name = ADL_VERBS.iter().find_map(|ns| id.strip_prefix(ns))?;
    Some(match name {
        "completed" => Verb::Completed,
        "passed" => Verb::Passed,
        "failed" => Verb::Failed,
        "scored" => Verb::Scored,
        "attempted" => Verb::Attempted,
        "experienced" => Verb::Experienced,
        "initialized" => Verb::Initialized,
        _ => return None,
    })
}

/// The payload of the statement's event, by verb and object type.
pub(super) fn payload(
    verb: Verb,
    statement: &Value,
    occurred_at: Option<DateTime<Utc>>,
    statement_id: &Option<String>,
    bad: &mut Vec<FieldViolation>,
) -> Option<RawPayload> {
    use RawPayload as P;
    let object_id = str_at(statement, &["object", "id"]).unwrap_or_default();
    if object_id.is_empty() && verb != Verb::Initialized {
        bad.push(FieldViolation::new("object.id", "is required"));
        return None;
    }
    let object_type = activity_type(statement.get("object"));
    let has_score = statement.pointer("/result/score").is_some();
    match verb {
        Verb::Initialized => Some(P::Login),
        Verb::Completed => match object_type {
            ActivityType::Course => course_id(statement, object_type, bad)
                .map(|course_id| P::CourseCompleted { course_id }),
            ActivityType::Assessment => graded(statement, object_type, bad),
            ActivityType::Lesson => lesson_completed(statement, bad),
            ActivityType::Unknown if parent_course(statement).is_some() => {
                lesson_completed(statement, bad)
            }
            ActivityType::Unknown => course_id(statement, ActivityType::Course, bad)
                .map(|course_id| P::CourseCompleted { course_id }),
        },
        Verb::Passed | Verb::Failed | Verb::Scored => graded(statement, object_type, bad),
        Verb::Attempted if has_score => graded(statement, object_type, bad),
        Verb::Attempted => course_id(statement, object_type, bad)
            .map(|course_id| P::EnrollmentCreated { course_id }),
        Verb::Experienced => experienced(statement, object_type, occurred_at, statement_id, bad),
    }
}

fn lesson_completed(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<RawPayload> {
    let lesson_id = object_uuid(statement, bad)?;
    let course_id = required_parent_course(statement, bad)?;
    Some(RawPayload::LessonCompleted {
        course_id: course_id.to_string(),
        lesson_id: lesson_id.to_string(),
    })
}

fn graded(
    statement: &Value,
    object_type: ActivityType,
    bad: &mut Vec<FieldViolation>,
) -> Option<RawPayload> {
    let score = score(statement, bad);
    let course_id = course_id(statement, object_type, bad);
    let assessment_id = str_at(statement, &["object", "id"]).unwrap_or_default();
    Some(RawPayload::AssessmentGraded {
        course_id: course_id?,
        assessment_id: assessment_id.to_string(),
        skill_id: String::new(),
        score: score?,
    })
}

fn experienced(
    statement: &Value,
    object_type: ActivityType,
    occurred_at: Option<DateTime<Utc>>,
    statement_id: &Option<String>,
    bad: &mut Vec<FieldViolation>,
) -> Option<RawPayload> {
    if let Some(text) = str_at(statement, &["result", "duration"]) {
        let Some(duration) = iso8601_duration(text) else {
            bad.push(FieldViolation::new(
                "result.duration",
                "must be an ISO 8601 duration such as PT25M30S",
            ));
            return None;
        };
        let ended_at = occurred_at?;
        return Some(RawPayload::LearningSession {
            session_id: statement_id.clone().unwrap_or_default(),
            started_at: Stamp::instant(ended_at - duration),
            ended_at: Stamp::instant(ended_at),
        });
    }
    let progress = statement
        .get("result")
        .and_then(|r| r.get("extensions"))
        .and_then(|e| e.get(CMI5_PROGRESS));
    if let Some(progress) = progress {
        let Some(percent) = progress.as_f64() else {
            bad.push(FieldViolation::new(
                format!("result.extensions.{CMI5_PROGRESS}"),
                "must be a number 0-100",
            ));
            return None;
        };
        let course_id = course_id(statement, object_type, bad)?;
        return Some(RawPayload::ProgressUpdated {
            course_id,
            progress_percent: percent,
        });
    }
    bad.push(FieldViolation::new(
        "result",
        "experienced needs result.duration (a learning session) or the cmi5 progress extension",
    ));
    None
}
