//! The activities a statement names: what they are, and the Stride ids
//! (course, lesson) that end their IRIs.

use serde_json::Value;
use uuid::Uuid;

use super::str_at;
use crate::domain::FieldViolation;

/// What an activity is, from its `definition.type` IRI's last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ActivityType {
    Course,
    Lesson,
    Assessment,
    Unknown,
}

/// The course: the object itself when it is a course, else its parent.
pub(super) fn course_id(
    statement: &Value,
    object_type: ActivityType,
    bad: &mut Vec<FieldViolation>,
) -> Option<String> {
    let id = if object_type == ActivityType::Course {
        object_uuid(statement, bad)
    } else {
        required_parent_course(statement, bad)
    };
    id.map(|id| id.to_string())
}

pub(super) fn object_uuid(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<Uuid> {
    let id = str_at(statement, &["object", "id"]).unwrap_or_default();
    let found = trailing_uuid(id);
    if found.is_none() {
        bad.push(FieldViolation::new(
            "object.id",
            "must end with the Stride UUID of the activity (…/<uuid> or urn:uuid:<uuid>)",
        ));
    }
    found
}

pub(super) fn required_parent_course(
    statement: &Value,
    bad: &mut Vec<FieldViolation>,
) -> Option<Uuid> {
    let found = parent_course(statement);
    if found.is_none() {
        bad.push(FieldViolation::new(
            "context.contextActivities.parent",
            "must name the course (an activity IRI ending with the Stride course UUID)",
        ));
    }
    found
}

/// The course among the context activities: one typed as a course first,
/// then the first parent, then the first grouping, that ends with a UUID.
pub(super) fn parent_course(statement: &Value) -> Option<Uuid> {
    let activities = |kind: &str| -> Vec<&Value> {
        match statement.pointer(&format!("/context/contextActivities/{kind}")) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        }
    };
    let candidates: Vec<&Value> = activities("parent")
        .into_iter()
        .chain(activities("grouping"))
        .collect();
    let uuid_of = |a: &&Value| a.get("id").and_then(Value::as_str).and_then(trailing_uuid);
    candidates
        .iter()
        .filter(|a| activity_type(Some(a)) == ActivityType::Course)
        .find_map(uuid_of)
        .or_else(|| candidates.iter().find_map(uuid_of))
}

pub(super) fn activity_type(activity: Option<&Value>) -> ActivityType {
    let ty = activity
        .and_then(|a| a.pointer("/definition/type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let last = ty
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match last {
        "course" => ActivityType::Course,
        "lesson" | "module" | "unit" | "media" | "file" | "link" => ActivityType::Lesson,
        "assessment" | "question" | "interaction" | "cmi.interaction" | "test" | "quiz"
        | "exam" => ActivityType::Assessment,
        _ => ActivityType::Unknown,
    }
}

/// The UUID that ends an IRI: after its last `/`, `:`, `#` or `=`.
fn trailing_uuid(iri: &str) -> Option<Uuid> {
    let tail = iri
        .trim_end_matches('/')
        .rsplit(['/', ':', '#', '='])
        .next()?;
    Uuid::parse_str(tail).ok().filter(|id| !id.is_nil())
}
