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

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Number, Value};
use uuid::Uuid;

use super::FieldViolation;
use super::events::{Kind, to_timestamp};
use crate::proto::events::v1 as pb;

/// The cmi5 result extension carrying progress 0-100.
pub const CMI5_PROGRESS: &str = "https://w3id.org/xapi/cmi5/result/extensions/progress";

/// Verb namespaces of the ADL vocabulary (xAPI 1.0 and the w3id one).
const ADL_VERBS: [&str; 2] = [
    "http://adlnet.gov/expapi/verbs/",
    "https://w3id.org/xapi/adl/verbs/",
];

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
    pub event: pb::Event,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Completed,
    Passed,
    Failed,
    Scored,
    Attempted,
    Experienced,
    Initialized,
}

/// What an activity is, from its `definition.type` IRI's last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActivityType {
    Course,
    Lesson,
    Assessment,
    Unknown,
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
            let kind = kind_of(&payload).as_str();
            Ok(MappedStatement {
                statement_id: id.clone(),
                actor,
                event: pb::Event {
                    event_id: id,
                    occurred_at: Some(to_timestamp(at)),
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

/// `id`: a UUID (xAPI requires one), canonical so a resend in other case is
/// still the same key.
fn statement_id(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<String> {
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

fn verb(id: &str) -> Option<Verb> {
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

fn actor(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<Actor> {
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
fn occurred_at(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<DateTime<Utc>> {
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

fn payload(
    verb: Verb,
    statement: &Value,
    occurred_at: Option<DateTime<Utc>>,
    statement_id: &Option<String>,
    bad: &mut Vec<FieldViolation>,
) -> Option<pb::event::Payload> {
    use pb::event::Payload as P;
    let object_id = str_at(statement, &["object", "id"]).unwrap_or_default();
    if object_id.is_empty() && verb != Verb::Initialized {
        bad.push(FieldViolation::new("object.id", "is required"));
        return None;
    }
    let object_type = activity_type(statement.get("object"));
    let has_score = statement.pointer("/result/score").is_some();
    match verb {
        Verb::Initialized => Some(P::Login(pb::Login {})),
        Verb::Completed => match object_type {
            ActivityType::Course => course_id(statement, object_type, bad)
                .map(|course_id| P::CourseCompleted(pb::CourseCompleted { course_id })),
            ActivityType::Assessment => graded(statement, object_type, bad),
            ActivityType::Lesson => lesson_completed(statement, bad),
            ActivityType::Unknown if parent_course(statement).is_some() => {
                lesson_completed(statement, bad)
            }
            ActivityType::Unknown => course_id(statement, ActivityType::Course, bad)
                .map(|course_id| P::CourseCompleted(pb::CourseCompleted { course_id })),
        },
        Verb::Passed | Verb::Failed | Verb::Scored => graded(statement, object_type, bad),
        Verb::Attempted if has_score => graded(statement, object_type, bad),
        Verb::Attempted => course_id(statement, object_type, bad)
            .map(|course_id| P::EnrollmentCreated(pb::EnrollmentCreated { course_id })),
        Verb::Experienced => experienced(statement, object_type, occurred_at, statement_id, bad),
    }
}

fn lesson_completed(
    statement: &Value,
    bad: &mut Vec<FieldViolation>,
) -> Option<pb::event::Payload> {
    let lesson_id = object_uuid(statement, bad)?;
    let course_id = required_parent_course(statement, bad)?;
    Some(pb::event::Payload::LessonCompleted(pb::LessonCompleted {
        course_id: course_id.to_string(),
        lesson_id: lesson_id.to_string(),
    }))
}

fn graded(
    statement: &Value,
    object_type: ActivityType,
    bad: &mut Vec<FieldViolation>,
) -> Option<pb::event::Payload> {
    let score = score(statement, bad);
    let course_id = course_id(statement, object_type, bad);
    let assessment_id = str_at(statement, &["object", "id"]).unwrap_or_default();
    Some(pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
        course_id: course_id?,
        assessment_id: assessment_id.to_string(),
        skill_id: String::new(),
        score: score?,
    }))
}

fn experienced(
    statement: &Value,
    object_type: ActivityType,
    occurred_at: Option<DateTime<Utc>>,
    statement_id: &Option<String>,
    bad: &mut Vec<FieldViolation>,
) -> Option<pb::event::Payload> {
    if let Some(text) = str_at(statement, &["result", "duration"]) {
        let Some(duration) = iso8601_duration(text) else {
            bad.push(FieldViolation::new(
                "result.duration",
                "must be an ISO 8601 duration such as PT25M30S",
            ));
            return None;
        };
        let ended_at = occurred_at?;
        return Some(pb::event::Payload::LearningSession(pb::LearningSession {
            session_id: statement_id.clone().unwrap_or_default(),
            started_at: Some(to_timestamp(ended_at - duration)),
            ended_at: Some(to_timestamp(ended_at)),
        }));
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
        return Some(pb::event::Payload::ProgressUpdated(pb::ProgressUpdated {
            course_id,
            progress_percent: percent,
        }));
    }
    bad.push(FieldViolation::new(
        "result",
        "experienced needs result.duration (a learning session) or the cmi5 progress extension",
    ));
    None
}

/// The score 0-100 from `result.score`: `scaled` (0..1) x 100, else `raw`
/// within `min..max`, else `raw` as a percentage. Rounded to hundredths so
/// 0.85 is 85, not 85.00000000000001.
fn score(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<f64> {
    let Some(score) = statement.pointer("/result/score") else {
        bad.push(FieldViolation::new(
            "result.score",
            "is required for a grade",
        ));
        return None;
    };
    let number = |name: &str| score.get(name).and_then(Value::as_f64);
    let percent = match (
        number("scaled"),
        number("raw"),
        number("min"),
        number("max"),
    ) {
        (Some(scaled), ..) => scaled * 100.0,
        (None, Some(raw), min, Some(max)) if max > min.unwrap_or(0.0) => {
            let min = min.unwrap_or(0.0);
            (raw - min) / (max - min) * 100.0
        }
        (None, Some(raw), _, None) => raw,
        _ => {
            bad.push(FieldViolation::new(
                "result.score",
                "needs scaled (0..1), or raw with max greater than min",
            ));
            return None;
        }
    };
    let percent = (percent * 100.0).round() / 100.0;
    if !(0.0..=100.0).contains(&percent) {
        bad.push(FieldViolation::new(
            "result.score",
            "must come to 0-100 percent",
        ));
        return None;
    }
    Some(percent)
}

/// The course: the object itself when it is a course, else its parent.
fn course_id(
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

fn object_uuid(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<Uuid> {
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

fn required_parent_course(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<Uuid> {
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
fn parent_course(statement: &Value) -> Option<Uuid> {
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

fn activity_type(activity: Option<&Value>) -> ActivityType {
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

/// `P[nW][nD][T[nH][nM][n[.n]S]]`; years and months are refused (their
/// length in seconds is not fixed).
pub fn iso8601_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut millis = 0f64;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, scale) = units.iter().find(|(u, _)| *u == c)?;
            let value: f64 = number.parse().ok()?;
            millis += value * scale;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    add(date, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    }
    (any && millis.is_finite() && millis < 1e15).then(|| Duration::milliseconds(millis as i64))
}

fn kind_of(payload: &pb::event::Payload) -> Kind {
    use pb::event::Payload as P;
    match payload {
        P::EnrollmentCreated(_) => Kind::EnrollmentCreated,
        P::ProgressUpdated(_) => Kind::ProgressUpdated,
        P::LessonCompleted(_) => Kind::LessonCompleted,
        P::CourseCompleted(_) => Kind::CourseCompleted,
        P::AssessmentGraded(_) => Kind::AssessmentGraded,
        P::SkillMasteryUpdated(_) => Kind::SkillMasteryUpdated,
        P::PracticePassed(_) => Kind::PracticePassed,
        P::LearningSession(_) => Kind::LearningSession,
        P::Login(_) => Kind::Login,
        P::PeerHelped(_) => Kind::PeerHelped,
        P::LearningPathCompleted(_) => Kind::LearningPathCompleted,
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
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
    use serde_json::json;

    use super::*;

    const COURSE: &str = "8a1f2b9e-3c4d-4e5f-8a6b-7c8d9e0f1a2b";
    const LESSON: &str = "1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0";
    const USER: &str = "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f";
    const ID: &str = "2e4f6a8b-0c1d-4e3f-9a5b-7c9d1e3f5a7b";

    fn statement(verb: &str, object: Value, extra: Value) -> Value {
        let mut s = json!({
            "id": ID,
            "actor": { "account": { "homePage": "https://lms.example", "name": USER } },
            "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
            "object": object,
            "timestamp": "2026-11-20T09:30:00+01:00",
        });
        if let (Value::Object(s), Value::Object(extra)) = (&mut s, extra) {
            s.extend(extra);
        }
        s
    }

    fn course_object() -> Value {
        json!({ "id": format!("https://lms.example/course/{COURSE}"),
                "definition": { "type": "http://adlnet.gov/expapi/activities/course" } })
    }

    fn under_course() -> Value {
        json!({ "context": { "contextActivities": { "parent": [ { "id": format!("https://lms.example/course/{COURSE}") } ] } } })
    }

    fn payload_of(s: &Value) -> pb::event::Payload {
        map_statement(s)
            .expect("maps")
            .event
            .payload
            .expect("payload")
    }

    fn violations(s: &Value) -> Vec<String> {
        match map_statement(s) {
            Err(XapiError::Invalid { violations, .. }) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn completed_course_maps_with_the_statement_id_time_and_account() {
        let m = map_statement(&statement("completed", course_object(), json!({}))).unwrap();
        assert_eq!(m.kind, "course_completed");
        assert_eq!(m.statement_id, ID);
        assert_eq!(m.event.event_id, ID);
        assert_eq!(m.actor, Actor::UserId(USER.parse().unwrap()));
        // 09:30 at +01:00 is 08:30 UTC.
        let at = DateTime::parse_from_rfc3339("2026-11-20T08:30:00Z").unwrap();
        assert_eq!(m.event.occurred_at.unwrap().seconds, at.timestamp());
        assert_eq!(
            m.event.payload,
            Some(pb::event::Payload::CourseCompleted(pb::CourseCompleted {
                course_id: COURSE.into()
            }))
        );
    }

    #[test]
    fn completed_lesson_takes_its_course_from_the_parent_single_or_list() {
        let lesson = json!({ "id": format!("urn:uuid:{LESSON}") });
        let single = json!({ "context": { "contextActivities": { "parent": { "id": format!("https://x/c?id={COURSE}") } } } });
        for extra in [under_course(), single] {
            let p = payload_of(&statement("completed", lesson.clone(), extra));
            assert_eq!(
                p,
                pb::event::Payload::LessonCompleted(pb::LessonCompleted {
                    course_id: COURSE.into(),
                    lesson_id: LESSON.into()
                })
            );
        }
        let typed = json!({ "id": format!("urn:uuid:{LESSON}"),
                            "definition": { "type": "http://adlnet.gov/expapi/activities/lesson" } });
        assert_eq!(
            violations(&statement("completed", typed, json!({}))),
            ["context.contextActivities.parent"]
        );
    }

    #[test]
    fn a_typed_course_parent_wins_over_an_earlier_untyped_one() {
        let other = "99999999-9999-4999-8999-999999999999";
        let extra = json!({ "context": { "contextActivities": {
            "parent": [ { "id": format!("urn:uuid:{other}") } ],
            "grouping": [ { "id": format!("urn:uuid:{COURSE}"),
                            "definition": { "type": "https://w3id.org/xapi/cmi5/activitytype/course" } } ] } } });
        let p = payload_of(&statement(
            "completed",
            json!({ "id": format!("urn:uuid:{LESSON}") }),
            extra,
        ));
        let pb::event::Payload::LessonCompleted(l) = p else {
            panic!("lesson expected")
        };
        assert_eq!(l.course_id, COURSE);
    }

    #[test]
    fn scores_scaled_raw_with_range_and_raw_alone() {
        let quiz = json!({ "id": "https://lms.example/quiz/7" });
        let cases = [
            (json!({ "scaled": 0.85 }), 85.0),
            (json!({ "raw": 7, "min": 0, "max": 10 }), 70.0),
            (json!({ "raw": 15, "min": 10, "max": 20 }), 50.0),
            (json!({ "raw": 64.5 }), 64.5),
        ];
        for (score, expected) in cases {
            for verb in ["passed", "failed", "scored", "attempted"] {
                let mut extra = under_course();
                extra["result"] = json!({ "score": score.clone() });
                let p = payload_of(&statement(verb, quiz.clone(), extra));
                let pb::event::Payload::AssessmentGraded(g) = p else {
                    panic!("graded expected for {verb}")
                };
                assert_eq!(g.score, expected, "{verb} {score}");
                assert_eq!(g.course_id, COURSE);
                assert_eq!(g.assessment_id, "https://lms.example/quiz/7");
            }
        }
    }

    #[test]
    fn scores_out_of_range_or_missing_are_invalid() {
        let quiz = json!({ "id": "https://lms.example/quiz/7" });
        for score in [
            json!({ "scaled": -0.2 }),
            json!({ "raw": 12, "max": 10 }),
            json!({ "raw": 5, "min": 10, "max": 10 }),
            json!({}),
        ] {
            let mut extra = under_course();
            extra["result"] = json!({ "score": score.clone() });
            assert_eq!(
                violations(&statement("passed", quiz.clone(), extra)),
                ["result.score"],
                "{score}"
            );
        }
        assert_eq!(
            violations(&statement("passed", quiz, under_course())),
            ["result.score"]
        );
    }

    #[test]
    fn attempted_without_score_enrolls_and_initialized_is_a_login() {
        assert_eq!(
            payload_of(&statement("attempted", course_object(), json!({}))),
            pb::event::Payload::EnrollmentCreated(pb::EnrollmentCreated {
                course_id: COURSE.into()
            })
        );
        let m = map_statement(&statement("initialized", course_object(), json!({}))).unwrap();
        assert_eq!(m.kind, "login");
    }

    #[test]
    fn experienced_is_a_session_with_a_duration_or_progress_with_cmi5() {
        let extra = json!({ "result": { "duration": "PT1H2M3.5S" } });
        let p = payload_of(&statement("experienced", course_object(), extra));
        let pb::event::Payload::LearningSession(s) = p else {
            panic!("session expected")
        };
        let (start, end) = (s.started_at.unwrap(), s.ended_at.unwrap());
        assert_eq!(
            end.seconds * 1000 + i64::from(end.nanos / 1_000_000)
                - (start.seconds * 1000 + i64::from(start.nanos / 1_000_000)),
            3_723_500
        );
        assert_eq!(s.session_id, ID);

        let extra = json!({ "result": { "extensions": { CMI5_PROGRESS: 40 } } });
        assert_eq!(
            payload_of(&statement("experienced", course_object(), extra)),
            pb::event::Payload::ProgressUpdated(pb::ProgressUpdated {
                course_id: COURSE.into(),
                progress_percent: 40.0
            })
        );
        assert_eq!(
            violations(&statement("experienced", course_object(), json!({}))),
            ["result"]
        );
    }

    #[test]
    fn unmapped_verbs_are_reported_with_the_verb() {
        let s = statement("voided", json!({ "id": ID }), json!({}));
        match map_statement(&s) {
            Err(XapiError::UnmappedVerb { statement_id, verb }) => {
                assert_eq!(statement_id.as_deref(), Some(ID));
                assert_eq!(verb, "http://adlnet.gov/expapi/verbs/voided");
            }
            other => panic!("{other:?}"),
        }
        let mut s = statement("completed", course_object(), json!({}));
        s["verb"]["id"] = json!("https://example.com/verbs/completed");
        assert!(matches!(
            map_statement(&s),
            Err(XapiError::UnmappedVerb { .. })
        ));
        s["verb"]["id"] = json!("https://w3id.org/xapi/adl/verbs/completed");
        assert!(map_statement(&s).is_ok());
    }

    #[test]
    fn actors_by_account_or_mbox_and_the_rest_refused() {
        let mut s = statement("completed", course_object(), json!({}));
        s["actor"] = json!({ "mbox": "mailto:Ada@Example.COM" });
        assert_eq!(
            map_statement(&s).unwrap().actor,
            Actor::Email("ada@example.com".into())
        );
        s["actor"] = json!({ "mbox": "ada@example.com" });
        assert_eq!(violations(&s), ["actor.mbox"]);
        s["actor"] = json!({ "account": { "name": "ada" } });
        assert_eq!(violations(&s), ["actor.account.name"]);
        s["actor"] = json!({ "mbox_sha1sum": "ab12" });
        assert_eq!(violations(&s), ["actor"]);
    }

    #[test]
    fn ids_and_times_are_checked() {
        let mut s = statement("completed", course_object(), json!({}));
        s["id"] = json!(ID.to_uppercase());
        assert_eq!(map_statement(&s).unwrap().statement_id, ID);
        s["id"] = json!("not-a-uuid");
        assert_eq!(violations(&s), ["id"]);
        let mut s = statement("completed", course_object(), json!({}));
        s.as_object_mut().unwrap().remove("timestamp");
        assert_eq!(violations(&s), ["timestamp"]);
        s["stored"] = json!("2026-11-20T10:00:00Z");
        assert!(map_statement(&s).is_ok());
        s["timestamp"] = json!("yesterday");
        assert_eq!(violations(&s), ["timestamp"]);
        let s = statement(
            "completed",
            json!({ "id": "https://lms.example/course/intro" }),
            json!({}),
        );
        assert_eq!(violations(&s), ["object.id"]);
    }

    #[test]
    fn iso_durations() {
        let ms = |t: &str| iso8601_duration(t).map(|d| d.num_milliseconds());
        assert_eq!(ms("PT25M30S"), Some(1_530_000));
        assert_eq!(ms("P1DT1H"), Some(90_000_000));
        assert_eq!(ms("PT0.25S"), Some(250));
        assert_eq!(ms("P1W"), Some(604_800_000));
        for bad in [
            "", "P", "PT", "P1M", "P1Y", "PT5", "T5M", "PT1.2.3S", "PTxS",
        ] {
            assert_eq!(ms(bad), None, "{bad}");
        }
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
