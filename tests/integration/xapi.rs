//! ImportXapiStatements over gRPC: LRS statements become Stride events with
//! the statement id as idempotency key; unmapped verbs are reported.

use prost_types::{ListValue, Struct, Value as PValue, value::Kind};
use serde_json::{Value, json};
use stride::auth::Scope;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tonic::Code;
use uuid::Uuid;

use crate::harness::{TestServer, authed};
use crate::ingest_support::{Fixture, count};

fn to_value(v: &Value) -> PValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(to_struct(v)),
    };
    PValue { kind: Some(kind) }
}

fn to_struct(v: &Value) -> Struct {
    Struct {
        fields: v
            .as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect(),
    }
}

fn verb(name: &str) -> Value {
    json!({ "id": format!("http://adlnet.gov/expapi/verbs/{name}"), "display": { "en-US": name } })
}

fn outcome(r: &pb::XapiResult) -> pb::XapiOutcome {
    pb::XapiOutcome::try_from(r.outcome).expect("known outcome")
}

#[tokio::test]
async fn lrs_statements_map_to_events_once_and_unmapped_verbs_are_reported() {
    let server = TestServer::start().await;
    let fx = Fixture::new(21);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lrs", fx.org, &[Scope::EventsWrite]);
    let mut client = EventServiceClient::new(server.channel());
    let (course, lesson) = (fx.courses[0], fx.lessons[0].1);
    let course_iri = format!("https://lms.example/course/{course}");

    let completed_course = json!({
        "id": Uuid::new_v4().to_string(),
        "actor": { "objectType": "Agent", "account": { "homePage": "https://lms.example", "name": fx.users[0].to_string() } },
        "verb": verb("completed"),
        "object": { "id": course_iri, "definition": { "type": "http://adlnet.gov/expapi/activities/course" } },
        "timestamp": "2026-11-20T09:30:00Z"
    });
    let passed_by_email = json!({
        "id": Uuid::new_v4().to_string(),
        "actor": { "mbox": format!("mailto:{}@INGEST.example", fx.users[1]) },
        "verb": verb("passed"),
        "object": { "id": format!("https://lms.example/quiz/{}", Uuid::new_v4()),
                    "definition": { "type": "http://adlnet.gov/expapi/activities/assessment" } },
        "context": { "contextActivities": { "parent": [ { "id": course_iri } ] } },
        "result": { "score": { "scaled": 0.85 }, "success": true },
        "timestamp": "2026-11-20T10:00:00Z"
    });
    let lesson_done = json!({
        "id": Uuid::new_v4().to_string(),
        "actor": { "account": { "homePage": "https://lms.example", "name": fx.users[2].to_string() } },
        "verb": verb("completed"),
        "object": { "id": format!("urn:uuid:{lesson}"), "definition": { "type": "http://adlnet.gov/expapi/activities/lesson" } },
        "context": { "contextActivities": { "parent": { "id": course_iri } } },
        "timestamp": "2026-11-20T11:00:00Z"
    });
    let voided = json!({
        "id": Uuid::new_v4().to_string(),
        "actor": { "account": { "homePage": "https://lms.example", "name": fx.users[0].to_string() } },
        "verb": verb("voided"),
        "object": { "objectType": "StatementRef", "id": Uuid::new_v4().to_string() },
        "timestamp": "2026-11-20T12:00:00Z"
    });
    let stranger = json!({
        "id": Uuid::new_v4().to_string(),
        "actor": { "mbox": "mailto:nobody@elsewhere.example" },
        "verb": verb("initialized"),
        "object": { "id": course_iri },
        "timestamp": "2026-11-20T12:30:00Z"
    });
    let statements = [
        &completed_course,
        &passed_by_email,
        &lesson_done,
        &voided,
        &stranger,
    ];
    let request = pb::ImportXapiStatementsRequest {
        statements: statements.iter().map(|s| to_struct(s)).collect(),
        organization_id: String::new(),
    };
    let results = client
        .import_xapi_statements(authed(request.clone(), &token))
        .await
        .expect("import")
        .into_inner()
        .results;
    use pb::XapiOutcome::*;
    let outcomes: Vec<_> = results.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [Accepted, Accepted, Accepted, UnmappedVerb, Invalid]
    );
    let kinds: Vec<_> = results.iter().map(|r| r.mapped_kind.as_str()).collect();
    assert_eq!(
        kinds[..3],
        ["course_completed", "assessment_graded", "lesson_completed"]
    );
    assert_eq!(
        results[0].statement_id,
        completed_course["id"].as_str().unwrap()
    );
    assert!(
        results[3].violations[0].description.contains("voided"),
        "{:?}",
        results[3]
    );
    assert_eq!(results[4].violations[0].field, "actor.mbox");

    let db = &server.db_url;
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM learning_events").await,
        3
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) AS n FROM assessments WHERE score = 85 AND passed"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) AS n FROM enrollments WHERE status = 'completed'"
        )
        .await,
        1
    );

    // The LRS resends: every statement that was applied is a duplicate now.
    let again = client
        .import_xapi_statements(authed(request, &token))
        .await
        .expect("import again")
        .into_inner()
        .results;
    let outcomes: Vec<_> = again.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [Duplicate, Duplicate, Duplicate, UnmappedVerb, Invalid]
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM learning_events").await,
        3
    );
}

#[tokio::test]
async fn an_import_needs_statements_and_stays_in_the_tokens_organization() {
    let server = TestServer::start().await;
    let fx = Fixture::new(22);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lrs", fx.org, &[Scope::EventsWrite]);
    let mut client = EventServiceClient::new(server.channel());

    let empty = client
        .import_xapi_statements(authed(pb::ImportXapiStatementsRequest::default(), &token))
        .await
        .expect_err("no statements");
    assert_eq!(empty.code(), Code::InvalidArgument);

    let foreign = client
        .import_xapi_statements(authed(
            pb::ImportXapiStatementsRequest {
                statements: vec![to_struct(&json!({ "id": Uuid::new_v4().to_string() }))],
                organization_id: Uuid::new_v4().to_string(),
            },
            &token,
        ))
        .await
        .expect_err("another organization");
    assert_eq!(foreign.code(), Code::PermissionDenied);
}
