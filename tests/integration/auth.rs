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
async fn policy_is_checked_before_unimplemented_handlers() {
    use stride::proto::identity::v1::UpdateOrganizationRequest;
    let server = TestServer::start().await;
    let mut client = IdentityServiceClient::new(server.channel());

    // A learner may not change organizations: denied by the policy table.
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let learner = server.user_token(user, org, Role::Learner);
    let err = client
        .update_organization(authed(UpdateOrganizationRequest::default(), &learner))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A platform admin passes the policy and reaches the (not yet written) handler.
    let (user, org) = server.person(None, &[Role::PlatformAdmin]).await;
    let admin = server.user_token(user, org, Role::PlatformAdmin);
    let err = client
        .update_organization(authed(UpdateOrganizationRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
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
