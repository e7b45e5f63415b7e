//! `map_statement`, verb by verb: what each statement maps onto, and why
//! the rest are refused.

use chrono::DateTime;
use serde_json::{Value, json};

use super::*;
use crate::domain::events::RawPayload;

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

fn payload_of(s: &Value) -> RawPayload {
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
    assert_eq!(m.event.occurred_at, Stamp::At(at.to_utc()));
    assert_eq!(
        m.event.payload,
        Some(RawPayload::CourseCompleted {
            course_id: COURSE.into()
        })
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
            RawPayload::LessonCompleted {
                course_id: COURSE.into(),
                lesson_id: LESSON.into()
            }
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
    let RawPayload::LessonCompleted { course_id, .. } = p else {
        panic!("lesson expected")
    };
    assert_eq!(course_id, COURSE);
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
            let RawPayload::AssessmentGraded {
                course_id,
                assessment_id,
                score: graded,
                ..
            } = p
            else {
                panic!("graded expected for {verb}")
            };
            assert_eq!(graded, expected, "{verb} {score}");
            assert_eq!(course_id, COURSE);
            assert_eq!(assessment_id, "https://lms.example/quiz/7");
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
        RawPayload::EnrollmentCreated {
            course_id: COURSE.into()
        }
    );
    let m = map_statement(&statement("initialized", course_object(), json!({}))).unwrap();
    assert_eq!(m.kind, "login");
}

#[test]
fn experienced_is_a_session_with_a_duration_or_progress_with_cmi5() {
    let extra = json!({ "result": { "duration": "PT1H2M3.5S" } });
    let p = payload_of(&statement("experienced", course_object(), extra));
    let RawPayload::LearningSession {
        session_id,
        started_at: Stamp::At(start),
        ended_at: Stamp::At(end),
    } = p
    else {
        panic!("session expected")
    };
    assert_eq!((end - start).num_milliseconds(), 3_723_500);
    assert_eq!(session_id, ID);

    let extra = json!({ "result": { "extensions": { CMI5_PROGRESS: 40 } } });
    assert_eq!(
        payload_of(&statement("experienced", course_object(), extra)),
        RawPayload::ProgressUpdated {
            course_id: COURSE.into(),
            progress_percent: 40.0
        }
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
fn a_leap_second_is_the_last_instant_of_its_minute() {
    let mut s = statement("completed", course_object(), json!({}));
    s["timestamp"] = json!("2026-06-30T23:59:60Z");
    let Stamp::At(at) = map_statement(&s).unwrap().event.occurred_at else {
        panic!("an instant")
    };
    assert_eq!(at.to_rfc3339(), "2026-06-30T23:59:59.999999999+00:00");
}
