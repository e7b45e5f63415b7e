//! The auth layer over a real socket: tokens, roles and the policy table.

use stride::auth::{Role, Scope};
use stride::proto::identity::v1::WhoAmIRequest;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::Code;
use uuid::Uuid;

use crate::harness::{TestServer, authed};

#[tokio::test(flavor = "multi_thread")]
async fn who_am_i_returns_the_verified_claims() {
    let server = TestServer::start().await;
    let (user, org) = server.person(None, &[Role::Trainer]).await;
    let token = server.user_token(user, org, Role::Trainer);
    let mut client = IdentityServiceClient::new(server.channel());
    let reply = client
        .who_am_i(authed(WhoAmIRequest::default(), &token))
        .await
        .expect("WhoAmI")
        .into_inner();
    assert_eq!(reply.subject, user.to_string());
    assert_eq!(reply.organization_id, org.to_string());
    assert_eq!(reply.active_role, "trainer");
    assert_eq!(reply.roles, vec!["trainer".to_string()]);
    let expires = reply.expires_at.expect("expiry").seconds;
    assert!(expires > chrono::Utc::now().timestamp(), "not expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_forged_tokens_are_unauthenticated() {
    let server = TestServer::start().await;
    let mut client = IdentityServiceClient::new(server.channel());

    let err = client.who_am_i(WhoAmIRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let err = client
        .who_am_i(authed(WhoAmIRequest::default(), "not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Signed with another secret.
    let other =
        stride::auth::TokenKeys::hs256(b"some-other-secret-some-other-secret!", "stride", "stride");
    let (forged, _) = other
        .issue(
            &stride::auth::Subject::User {
                user_id: Uuid::new_v4(),
                org_id: Uuid::new_v4(),
                roles: vec![Role::PlatformAdmin],
                active: Some(Role::PlatformAdmin),
            },
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let err = client
        .who_am_i(authed(WhoAmIRequest::default(), &forged))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(!err.message().contains(&forged), "the token is not echoed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_not_held_cannot_be_chosen() {
    let server = TestServer::start().await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    let mut client = IdentityServiceClient::new(server.channel());
    let mut request = authed(WhoAmIRequest::default(), &token);
    request
        .metadata_mut()
        .insert("x-stride-role", "platform_admin".parse().unwrap());
    let err = client.who_am_i(request).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_is_checked_before_the_handler() {
    use stride::proto::gamification::v1::RecomputeGamificationRequest;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
    let server = TestServer::start().await;
    let mut client = GamificationServiceClient::new(server.channel());

    // A learner may not recompute gamification: denied by the policy table.
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let learner = server.user_token(user, org, Role::Learner);
    let err = client
        .recompute_gamification(authed(RecomputeGamificationRequest::default(), &learner))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // An org admin passes the policy and reaches the handler, which finds
    // the request names no target.
    let (user, org) = server.person(None, &[Role::OrgAdmin]).await;
    let admin = server.user_token(user, org, Role::OrgAdmin);
    let err = client
        .recompute_gamification(authed(RecomputeGamificationRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("target"), "{}", err.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn service_tokens_reach_only_their_scopes() {
    use stride::proto::gamification::v1::GetProfileRequest;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
    let server = TestServer::start().await;
    let token = server.service_token("enrollment", &[Scope::EventsWrite]);

    let mut identity = IdentityServiceClient::new(server.channel());
    let me = identity
        .who_am_i(authed(WhoAmIRequest::default(), &token))
        .await
        .expect("WhoAmI for a service")
        .into_inner();
    assert_eq!(me.subject, "service:enrollment");
    assert!(me.roles.is_empty());

    let mut gamification = GamificationServiceClient::new(server.channel());
    let err = gamification
        .get_profile(authed(GetProfileRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Claims for a real user of the test database, valid now.
async fn valid_claims(server: &TestServer) -> stride::auth::Claims {
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    server.keys.verify(&token).expect("valid token")
}

/// `claims` (any shape, so that tests can leave claims out) signed with a
/// shared `secret`.
pub(crate) fn sign(
    claims: &impl serde::Serialize,
    alg: jsonwebtoken::Algorithm,
    secret: &[u8],
) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_early_foreign_and_unsigned_tokens_are_rejected_over_the_wire() {
    use crate::harness::TEST_SECRET;
    use jsonwebtoken::Algorithm;
    let server = TestServer::start().await;
    let claims = valid_claims(&server).await;
    let now = chrono::Utc::now().timestamp();
    let mut client = IdentityServiceClient::new(server.channel());

    let good = sign(&claims, Algorithm::HS256, TEST_SECRET);
    client
        .who_am_i(authed(WhoAmIRequest::default(), &good))
        .await
        .expect("the untampered token works");

    let mut expired = claims.clone();
    expired.exp = now - 3_600;
    let mut early = claims.clone();
    early.nbf = now + 3_600;
    let mut audience = claims.clone();
    audience.aud = "another-service".into();
    let mut issuer = claims.clone();
    issuer.iss = "someone-else".into();
    let cases = [
        (
            "expired",
            sign(&expired, Algorithm::HS256, TEST_SECRET),
            "expired",
        ),
        (
            "not yet valid",
            sign(&early, Algorithm::HS256, TEST_SECRET),
            "not valid yet",
        ),
        (
            "wrong audience",
            sign(&audience, Algorithm::HS256, TEST_SECRET),
            "not accepted",
        ),
        (
            "wrong issuer",
            sign(&issuer, Algorithm::HS256, TEST_SECRET),
            "not accepted",
        ),
        (
            "other algorithm",
            sign(&claims, Algorithm::HS512, TEST_SECRET),
            "not accepted",
        ),
        (
            "alg none",
            format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                good.split('.').nth(1).unwrap()
            ),
            "",
        ),
    ];
    for (name, token, says) in cases {
        let err = client
            .who_am_i(authed(WhoAmIRequest::default(), &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{name}");
        assert!(err.message().contains(says), "{name}: {}", err.message());
    }
}

fn denied<T>(reply: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match reply {
        Ok(_) => panic!("{what} must be denied, it succeeded"),
        Err(status) => assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{what} must be denied"
        ),
    }
}

fn allowed<T>(reply: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    if let Err(status) = reply {
        assert_ne!(
            status.code(),
            Code::PermissionDenied,
            "{what} must pass the policy: {status:?}"
        );
        assert_ne!(
            status.code(),
            Code::Unauthenticated,
            "{what} must pass the policy: {status:?}"
        );
    }
}

/// For each role, per service: one call the policy lets through (it may
/// still answer UNIMPLEMENTED or NOT_FOUND, but never PERMISSION_DENIED) and
/// one it refuses.
#[tokio::test(flavor = "multi_thread")]
async fn every_role_has_an_allowed_and_a_denied_call_per_service() {
    use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
    use stride::proto::analytics::v1::{GetLearningCultureRequest, GetLearningVelocityRequest};
    use stride::proto::events::v1::event_service_client::EventServiceClient;
    use stride::proto::events::v1::{PublishEventRequest, UpsertCoursesRequest};
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
    use stride::proto::gamification::v1::{CreateAchievementRequest, GetProfileRequest};
    use stride::proto::identity::v1::{GetUserRequest, IssueServiceTokenRequest};

    let server = TestServer::start().await;
    for role in Role::ALL {
        let (user, org) = server.person(None, &[role]).await;
        let token = server.user_token(user, org, role);
        let mut identity = IdentityServiceClient::new(server.channel());
        let mut events = EventServiceClient::new(server.channel());
        let mut gamification = GamificationServiceClient::new(server.channel());
        let mut analytics = AnalyticsServiceClient::new(server.channel());

        allowed(
            identity
                .get_user(authed(GetUserRequest::default(), &token))
                .await,
            "GetUser self",
        );
        allowed(
            gamification
                .get_profile(authed(GetProfileRequest::default(), &token))
                .await,
            "GetProfile",
        );
        allowed(
            analytics
                .get_learning_velocity(authed(GetLearningVelocityRequest::default(), &token))
                .await,
            "GetLearningVelocity",
        );
        // People never publish events: that is for service tokens.
        denied(
            events
                .publish_event(authed(PublishEventRequest::default(), &token))
                .await,
            "PublishEvent",
        );

        if role == Role::PlatformAdmin {
            allowed(
                events
                    .upsert_courses(authed(UpsertCoursesRequest::default(), &token))
                    .await,
                "UpsertCourses",
            );
            allowed(
                identity
                    .issue_service_token(authed(IssueServiceTokenRequest::default(), &token))
                    .await,
                "IssueServiceToken",
            );
        } else {
            denied(
                events
                    .upsert_courses(authed(UpsertCoursesRequest::default(), &token))
                    .await,
                "UpsertCourses",
            );
            denied(
                identity
                    .issue_service_token(authed(IssueServiceTokenRequest::default(), &token))
                    .await,
                "IssueServiceToken",
            );
        }
        let admin = matches!(role, Role::OrgAdmin | Role::PlatformAdmin);
        let culture = analytics
            .get_learning_culture(authed(GetLearningCultureRequest::default(), &token))
            .await;
        let achievement = gamification
            .create_achievement(authed(CreateAchievementRequest::default(), &token))
            .await;
        if admin {
            allowed(culture, "GetLearningCulture");
            allowed(achievement, "CreateAchievement");
        } else {
            denied(culture, "GetLearningCulture");
            denied(achievement, "CreateAchievement");
        }
    }
}
