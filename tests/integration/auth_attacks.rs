//! Token attacks over the wire against `stride serve` with production keys
//! (RS256, `kid` 2026b, from tests/fixtures/jwt): algorithm confusion,
//! `alg: none`, tampered payloads, missing or malformed claims, a role not
//! held, and service tokens used past their scope or tenant. Each is
//! refused with the right code, and no refusal tells the caller anything
//! about the data (the response bodies are checked, not only the codes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use stride::proto::events::v1 as ev;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::gamification::v1::GetProfileRequest;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use stride::proto::identity::v1::{ListUsersRequest, WhoAmIRequest};
use tonic::{Code, Status};
use uuid::Uuid;

use crate::harness::{TEST_SECRET, TestDb, authed};
use crate::ingest_support::{Fixture, count, timestamp};
use crate::process::ServeProcess;

const KID: &str = "2026b";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Claims as Stride issues them for a person acting as `role`.
fn person(user: Uuid, org: Uuid, role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": user.to_string(), "org_id": org.to_string(),
        "roles": [role], "role": role,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": Uuid::new_v4().to_string(), "iss": "stride", "aud": "stride",
    })
}

/// Claims of an upstream service bound to `org` with `scope`.
fn service(org: Uuid, scope: &str) -> Value {
    let mut claims = person(Uuid::nil(), org, "learner");
    claims["sub"] = json!("service:lms");
    claims["roles"] = json!([]);
    claims.as_object_mut().unwrap().remove("role");
    claims["scope"] = json!(scope);
    claims
}

/// Signed with the server's own private key (what a token from Stride is).
fn signed(claims: &Value) -> String {
    let pem = std::fs::read(fixture("rsa-2026b.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn without(mut claims: Value, claim: &str) -> Value {
    claims.as_object_mut().unwrap().remove(claim);
    claims
}

fn with(mut claims: Value, claim: &str, value: Value) -> Value {
    claims[claim] = value;
    claims
}

/// A refusal says nothing about the data: no token, no ids, no email, no
/// error details beyond the message.
fn assert_tells_nothing(status: &Status, token: &str, secrets: &[String], what: &str) {
    let message = status.message();
    assert!(!message.contains(token), "{what}: the token is echoed");
    for secret in secrets {
        assert!(
            !message.contains(secret.as_str()),
            "{what}: {secret} in {message}"
        );
    }
    assert!(!message.contains('@'), "{what}: an address in {message}");
    assert!(message.len() < 200, "{what}: {message}");
    assert!(status.details().is_empty(), "{what}: details attached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_tokens_are_refused_over_the_wire_and_tell_nothing() {
    let db = TestDb::migrated().await;
    let fx = Fixture::new(70);
    fx.create(&db.url).await;
    let keys = format!("{KID}={}", fixture("rsa-2026b.pub.pem"));
    let server = ServeProcess::start(
        &db.url,
        &db.app_url,
        &[
            ("STRIDE_JWT_PUBLIC_KEYS", keys.as_str()),
            ("STRIDE_JWT_PRIVATE_KEY_FILE", &fixture("rsa-2026b.pem")),
            ("STRIDE_JWT_KEY_ID", KID),
        ],
    )
    .await;
    let learner = fx.users[0];
    let good = person(learner, fx.org, "learner");
    let secrets = vec![learner.to_string(), fx.org.to_string()];

    // The untampered token works, on a call that reads personal data.
    let profile = |token: String| {
        let mut client = GamificationServiceClient::new(server.channel.clone());
        async move {
            client
                .get_profile(authed(GetProfileRequest::default(), &token))
                .await
                .map(drop)
        }
    };
    profile(signed(&good)).await.expect("a token Stride signed");

    let public_pem = std::fs::read(fixture("rsa-2026b.pub.pem")).unwrap();
    let confused = {
        // HS256 keyed with the RSA public key, naming the RSA key's kid.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&public_pem)).unwrap()
    };
    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"2026b"}"#);
        let payload = URL_SAFE_NO_PAD.encode(good.to_string());
        format!("{header}.{payload}.")
    };
    let tampered = {
        // A learner's real signature over a payload that says platform_admin.
        let token = signed(&good);
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = good.clone();
        claims["roles"] = json!(["platform_admin"]);
        claims["role"] = json!("platform_admin");
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, String, Code)> = vec![
        (
            "HS256 keyed with the RSA public key (algorithm confusion)",
            confused,
            Code::Unauthenticated,
        ),
        (
            "HS256 with the old shared secret",
            crate::auth::sign(&good, Algorithm::HS256, TEST_SECRET),
            Code::Unauthenticated,
        ),
        ("alg none", unsigned, Code::Unauthenticated),
        ("tampered payload", tampered, Code::Unauthenticated),
        (
            "unknown kid",
            {
                let pem = std::fs::read(fixture("rsa-2026b.pem")).unwrap();
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some("2099z".into());
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_rsa_pem(&pem).unwrap())
                    .unwrap()
            },
            Code::Unauthenticated,
        ),
        (
            "expired",
            signed(&with(good.clone(), "exp", json!(now - 3_600))),
            Code::Unauthenticated,
        ),
        (
            "not yet valid",
            signed(&with(good.clone(), "nbf", json!(now + 3_600))),
            Code::Unauthenticated,
        ),
        (
            "no sub",
            signed(&without(good.clone(), "sub")),
            Code::Unauthenticated,
        ),
        (
            "no exp",
            signed(&without(good.clone(), "exp")),
            Code::Unauthenticated,
        ),
        (
            "no jti",
            signed(&without(good.clone(), "jti")),
            Code::Unauthenticated,
        ),
        (
            "no aud",
            signed(&without(good.clone(), "aud")),
            Code::Unauthenticated,
        ),
        (
            "no org_id on a person",
            signed(&without(good.clone(), "org_id")),
            Code::Unauthenticated,
        ),
        (
            "sub not a user id",
            signed(&with(good.clone(), "sub", json!("' OR 1=1 --"))),
            Code::Unauthenticated,
        ),
        (
            "exp as text",
            signed(&with(good.clone(), "exp", json!("tomorrow"))),
            Code::Unauthenticated,
        ),
        (
            "a role the claims do not list",
            signed(&with(good.clone(), "role", json!("platform_admin"))),
            Code::PermissionDenied,
        ),
        (
            "a role listed but not held in the database",
            signed(&with(
                with(good.clone(), "roles", json!(["learner", "org_admin"])),
                "role",
                json!("org_admin"),
            )),
            Code::PermissionDenied,
        ),
        (
            "another organization's id",
            signed(&with(good.clone(), "org_id", json!(Uuid::new_v4()))),
            Code::Unauthenticated,
        ),
    ];
    for (what, token, code) in cases {
        let status = profile(token.clone()).await.expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert_tells_nothing(&status, &token, &secrets, what);
        // WhoAmI (no transaction) refuses the same tokens.
        let status = IdentityServiceClient::new(server.channel.clone())
            .who_am_i(authed(WhoAmIRequest::default(), &token))
            .await
            .expect_err(what);
        assert_eq!(status.code(), code, "{what} on WhoAmI: {status:?}");
        assert_tells_nothing(&status, &token, &secrets, what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tokens_used_past_their_scope_or_tenant_are_refused_and_store_nothing() {
    let db = TestDb::migrated().await;
    let fx = Fixture::new(72);
    let other = Fixture::new(73);
    fx.create(&db.url).await;
    other.create(&db.url).await;
    let server = ServeProcess::start(&db.url, &db.app_url, &[]).await;
    // As Stride signs them (HS256, the test secret), with any claims.
    let sign = |claims: &Value| crate::auth::sign(claims, Algorithm::HS256, TEST_SECRET);
    let events_only = sign(&service(fx.org, "events:write"));
    let catalog_only = sign(&service(fx.org, "catalog:write"));
    let completion = |user: Uuid, course: Uuid, id: &str| ev::Event {
        event_id: id.into(),
        occurred_at: timestamp(chrono::Utc::now() - chrono::Duration::hours(1)),
        user_id: user.to_string(),
        organization_id: String::new(),
        payload: Some(ev::event::Payload::CourseCompleted(ev::CourseCompleted {
            course_id: course.to_string(),
        })),
    };
    let publish = |token: &str, event: ev::Event| {
        let mut client = EventServiceClient::new(server.channel.clone());
        let request = authed(ev::PublishEventRequest { event: Some(event) }, token);
        async move { client.publish_event(request).await }
    };

    // Catalogue writes with an events-only token.
    let status = EventServiceClient::new(server.channel.clone())
        .upsert_courses(authed(
            ev::UpsertCoursesRequest {
                courses: vec![ev::Course {
                    id: Uuid::new_v4().to_string(),
                    name: "Smuggled".into(),
                    expected_lessons: 1,
                    ..Default::default()
                }],
            },
            &events_only,
        ))
        .await
        .expect_err("catalog write with events:write");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_tells_nothing(&status, &events_only, &[], "catalog write");

    // Events with a catalogue-only token.
    let status = publish(&catalog_only, completion(fx.users[0], fx.courses[0], "c1"))
        .await
        .expect_err("events with catalog:write");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // Another tenant's learner, through a token bound to this tenant: refused
    // exactly as a learner who does not exist, so it confirms nothing.
    let foreign = publish(
        &events_only,
        completion(other.users[0], other.courses[0], "x1"),
    )
    .await
    .expect_err("another tenant's learner");
    let unknown = publish(
        &events_only,
        completion(Uuid::new_v4(), other.courses[0], "x1"),
    )
    .await
    .expect_err("an unknown learner");
    assert_eq!(foreign.code(), Code::InvalidArgument, "{foreign:?}");
    assert_eq!(foreign.code(), unknown.code());
    assert_eq!(
        foreign.message(),
        unknown.message(),
        "the same answer for another tenant's learner as for nobody"
    );
    // Naming the other tenant outright.
    let mut named = completion(other.users[0], other.courses[0], "x2");
    named.organization_id = other.org.to_string();
    let status = publish(&events_only, named).await.expect_err("other org");
    assert!(
        matches!(
            status.code(),
            Code::InvalidArgument | Code::PermissionDenied
        ),
        "{status:?}"
    );

    // People's calls with a service token, even when it asks for a role.
    let status = GamificationServiceClient::new(server.channel.clone())
        .get_profile(authed(GetProfileRequest::default(), &events_only))
        .await
        .expect_err("a profile for a service");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let mut request = authed(ListUsersRequest::default(), &events_only);
    request
        .metadata_mut()
        .insert("x-stride-role", "platform_admin".parse().unwrap());
    let status = IdentityServiceClient::new(server.channel.clone())
        .list_users(request)
        .await
        .expect_err("users for a service acting as platform admin");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_tells_nothing(&status, &events_only, &[fx.org.to_string()], "list users");

    for table in ["event_receipts", "learning_events"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(count(&db.url, &sql).await, 0, "{table}");
    }
    let sql = "SELECT count(*) AS n FROM courses WHERE name = 'Smuggled'";
    assert_eq!(count(&db.url, sql).await, 0);

    // The same token still does what it is for.
    publish(&events_only, completion(fx.users[0], fx.courses[0], "ok"))
        .await
        .expect("its own scope and tenant");
}
