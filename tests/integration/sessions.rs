//! Login, refresh rotation, logout, deactivation and service tokens over the
//! real server: a token stops working the moment its grounds are gone.

use stride::auth::Role;
use stride::proto::common::v1::Role as PbRole;
use stride::proto::events::v1::PublishEventRequest;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use stride::proto::identity::v1::*;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{TestServer, authed};
use crate::health::token_verdicts;

const PASSWORD: &str = "correct horse battery staple";

/// An org admin token, and an account with a password created through it.
async fn setup() -> (TestServer, IdentityServiceClient<Channel>, String, User) {
    let server = TestServer::start().await;
    let (admin, org) = server.person(None, &[Role::OrgAdmin]).await;
    let admin_token = server.user_token(admin, org, Role::OrgAdmin);
    let mut identity = IdentityServiceClient::new(server.channel());
    let user = identity
        .create_user(authed(
            CreateUserRequest {
                email: "Ada.Lovelace@example.com".into(),
                full_name: "Ada Lovelace".into(),
                password: PASSWORD.into(),
                roles: vec![PbRole::Learner as i32, PbRole::Trainer as i32],
                ..Default::default()
            },
            &admin_token,
        ))
        .await
        .expect("create user")
        .into_inner()
        .user
        .unwrap();
    (server, identity, admin_token, user)
}

/// Takes the trainer role from `user`, as the org admin.
async fn revoke_trainer(identity: &mut IdentityServiceClient<Channel>, user: &User, admin: &str) {
    identity
        .revoke_role(authed(
            RevokeRoleRequest {
                user_id: user.id.clone(),
                role: PbRole::Trainer as i32,
            },
            admin,
        ))
        .await
        .expect("revoke the trainer role");
}

/// Deactivates `user`, as the org admin.
async fn deactivate(identity: &mut IdentityServiceClient<Channel>, user: &User, admin: &str) {
    identity
        .deactivate_user(authed(
            DeactivateUserRequest {
                user_id: user.id.clone(),
            },
            admin,
        ))
        .await
        .expect("deactivate the user");
}

fn login(email: &str, password: &str, role: PbRole) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: password.into(),
        role: role as i32,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_issues_working_tokens_and_refuses_bad_credentials_alike() {
    let (_server, mut identity, _, user) = setup().await;
    let session = identity
        .login(login("ada.lovelace@EXAMPLE.com", PASSWORD, PbRole::Trainer))
        .await
        .expect("login")
        .into_inner();
    assert_eq!(session.active_role, PbRole::Trainer as i32);
    assert_eq!(session.user.unwrap().id, user.id);
    let me = identity
        .who_am_i(authed(WhoAmIRequest::default(), &session.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, user.id);
    assert_eq!(me.active_role, "trainer");

    let wrong = identity
        .login(login(
            "ada.lovelace@example.com",
            "not the password",
            PbRole::Unspecified,
        ))
        .await
        .unwrap_err();
    let unknown = identity
        .login(login("nobody@example.com", PASSWORD, PbRole::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(
        wrong.message(),
        unknown.message(),
        "no hint which part was wrong"
    );

    let err = identity
        .login(login(
            "ada.lovelace@example.com",
            PASSWORD,
            PbRole::OrgAdmin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a role not held cannot be chosen"
    );

    let default_role = identity
        .login(login(
            "ada.lovelace@example.com",
            PASSWORD,
            PbRole::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        default_role.active_role,
        PbRole::Learner as i32,
        "least privileged by default"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_a_replayed_refresh_token_kills_the_family() {
    let (_server, mut identity, _, _) = setup().await;
    let first = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .unwrap()
        .into_inner();
    let second = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token.clone(),
            role: 0,
        })
        .await
        .expect("rotate")
        .into_inner();
    assert_ne!(second.refresh_token, first.refresh_token);
    identity
        .who_am_i(authed(WhoAmIRequest::default(), &second.access_token))
        .await
        .expect("the new access token works");

    // Replaying the rotated token: refused, and the whole family revoked.
    let replay = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token,
            role: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);
    let after = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: second.refresh_token,
            role: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        after.code(),
        Code::Unauthenticated,
        "the newer token died with its family"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_access_token_and_the_refresh_family() {
    let (_server, mut identity, _, _) = setup().await;
    let session = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .unwrap()
        .into_inner();
    identity
        .logout(authed(
            LogoutRequest {
                refresh_token: session.refresh_token.clone(),
            },
            &session.access_token,
        ))
        .await
        .expect("logout");
    let err = identity
        .who_am_i(authed(WhoAmIRequest::default(), &session.access_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("revoked"), "{}", err.message());
    let err = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: session.refresh_token,
            role: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_and_role_revocation_take_effect_at_once() {
    let (_server, mut identity, admin_token, user) = setup().await;
    let trainer = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Trainer))
        .await
        .unwrap()
        .into_inner();
    revoke_trainer(&mut identity, &user, &admin_token).await;
    let err = identity
        .who_am_i(authed(WhoAmIRequest::default(), &trainer.access_token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "the trainer role is gone"
    );

    let learner = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .unwrap()
        .into_inner();
    deactivate(&mut identity, &user, &admin_token).await;
    let err = identity
        .who_am_i(authed(WhoAmIRequest::default(), &learner.access_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "a deactivated account cannot log in"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_admins_issue_service_tokens_scoped_to_their_scopes() {
    let server = TestServer::start().await;
    let (admin, org) = server.person(None, &[Role::PlatformAdmin]).await;
    let token = server.user_token(admin, org, Role::PlatformAdmin);
    let mut identity = IdentityServiceClient::new(server.channel());
    let issued = identity
        .issue_service_token(authed(
            IssueServiceTokenRequest {
                service_name: "assessment".into(),
                scopes: vec!["events:write".into()],
                organization_id: org.to_string(),
                ttl_seconds: 3600,
            },
            &token,
        ))
        .await
        .expect("issue")
        .into_inner();
    let me = identity
        .who_am_i(authed(WhoAmIRequest::default(), &issued.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, "service:assessment");
    assert_eq!(me.scopes, vec!["events:write".to_string()]);
    assert_eq!(me.organization_id, org.to_string());

    // The service passes the events policy: the handler itself refuses the
    // empty request.
    let mut events = EventServiceClient::new(server.channel());
    let err = events
        .publish_event(authed(PublishEventRequest::default(), &issued.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("event"), "{}", err.message());

    let bad = identity
        .issue_service_token(authed(
            IssueServiceTokenRequest {
                service_name: "bad name!".into(),
                scopes: vec!["events:delete".into()],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    let (org_admin, _) = server.person(Some(org), &[Role::OrgAdmin]).await;
    let err = identity
        .issue_service_token(authed(
            IssueServiceTokenRequest {
                service_name: "lms".into(),
                scopes: vec!["events:write".into()],
                ..Default::default()
            },
            &server.user_token(org_admin, org, Role::OrgAdmin),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// The token check rides on a call's first transaction (read-write or read
/// only) and runs on its own for calls that open none: every path refuses
/// each kind of dead token with its reason, answers nothing the handler
/// computed, and a refused write changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn dead_tokens_are_refused_on_calls_with_and_without_a_transaction() {
    use stride::proto::common::v1::LeaderboardPrivacy;
    use stride::proto::gamification::v1::GetLeaderboardRequest;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

    let (server, mut identity, admin_token, user) = setup().await;
    let user_id: uuid::Uuid = user.id.parse().unwrap();
    let org: uuid::Uuid = user.organization_id.parse().unwrap();
    let mut boards = GamificationServiceClient::new(server.channel());
    let privacy = |p: LeaderboardPrivacy| UpdatePreferencesRequest {
        user_id: String::new(),
        preferences: Some(Preferences {
            leaderboard_privacy: p as i32,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["leaderboard_privacy".into()],
        }),
    };
    // Each path, with what the error must say; the answer must be an error
    // that names neither the person nor their data.
    let refused = async |identity: &mut IdentityServiceClient<Channel>,
                         boards: &mut GamificationServiceClient<Channel>,
                         token: &str,
                         code: Code,
                         reason: &str| {
        let errors = [
            identity
                .who_am_i(authed(WhoAmIRequest::default(), token))
                .await
                .map(|_| ()),
            identity
                .get_user(authed(GetUserRequest::default(), token))
                .await
                .map(|_| ()),
            identity
                .update_preferences(authed(privacy(LeaderboardPrivacy::Anonymous), token))
                .await
                .map(|_| ()),
            boards
                .get_leaderboard(authed(GetLeaderboardRequest::default(), token))
                .await
                .map(|_| ()),
        ];
        for (call, result) in ["WhoAmI", "GetUser", "UpdatePreferences", "GetLeaderboard"]
            .iter()
            .zip(errors)
        {
            let err = result.expect_err(&format!("{call} with a dead token ({reason})"));
            assert_eq!(err.code(), code, "{call}: {}", err.message());
            assert!(err.message().contains(reason), "{call}: {}", err.message());
            assert!(
                !err.message().contains("Ada") && !err.message().contains("example.com"),
                "{call} leaked: {}",
                err.message()
            );
        }
    };
    let stored_privacy = async |identity: &mut IdentityServiceClient<Channel>| {
        identity
            .get_preferences(authed(
                GetPreferencesRequest {
                    user_id: user.id.clone(),
                },
                &admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .preferences
            .unwrap()
            .leaderboard_privacy
    };

    // A live token works on every path (so the refusals below are the
    // token's, not the calls').
    let learner = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    identity
        .update_preferences(authed(privacy(LeaderboardPrivacy::Public), &learner))
        .await
        .expect("a live token writes");
    boards
        .get_leaderboard(authed(GetLeaderboardRequest::default(), &learner))
        .await
        .expect("a live token reads a board");
    let before = stored_privacy(&mut identity).await;
    assert_eq!(before, LeaderboardPrivacy::Public as i32);

    let trainer = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Trainer))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    revoke_trainer(&mut identity, &user, &admin_token).await;
    refused(
        &mut identity,
        &mut boards,
        &trainer,
        Code::PermissionDenied,
        "no longer held",
    )
    .await;

    let (_, other_org) = server.person(None, &[Role::Learner]).await;
    assert_ne!(other_org, org);
    let foreign = server.user_token(user_id, other_org, Role::Learner);
    refused(
        &mut identity,
        &mut boards,
        &foreign,
        Code::Unauthenticated,
        "organization does not match",
    )
    .await;
    let nobody = server.user_token(uuid::Uuid::new_v4(), org, Role::Learner);
    refused(
        &mut identity,
        &mut boards,
        &nobody,
        Code::Unauthenticated,
        "does not exist",
    )
    .await;

    identity
        .logout(authed(LogoutRequest::default(), &learner))
        .await
        .unwrap();
    refused(
        &mut identity,
        &mut boards,
        &learner,
        Code::Unauthenticated,
        "revoked",
    )
    .await;

    deactivate(&mut identity, &user, &admin_token).await;
    let minted = server.user_token(user_id, org, Role::Learner);
    refused(
        &mut identity,
        &mut boards,
        &minted,
        Code::Unauthenticated,
        "deactivated",
    )
    .await;

    assert_eq!(
        stored_privacy(&mut identity).await,
        before,
        "no refused UpdatePreferences changed anything"
    );
}

/// SQL in string fields is data: a login with an injection for an email is
/// an ordinary failed login, a name full of SQL is stored and read back
/// byte for byte, and a malformed id is refused by its field.
#[tokio::test(flavor = "multi_thread")]
async fn sql_in_string_fields_is_stored_or_refused_as_data() {
    use stride::proto::gamification::v1::GetLeaderboardRequest;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

    let (server, mut identity, admin_token, user) = setup().await;
    for email in ["' OR '1'='1", "x@example.com'; DROP TABLE users; --"] {
        let err = identity
            .login(login(email, "' OR ''='", PbRole::Learner))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{email}");
        assert_eq!(err.message(), "invalid email or password", "{email}");
    }
    let name = "Robert'); DROP TABLE users; -- \\ $1 %s";
    let updated = identity
        .update_user(authed(
            UpdateUserRequest {
                user: Some(User {
                    id: user.id.clone(),
                    full_name: name.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
                password: None,
            },
            &admin_token,
        ))
        .await
        .expect("a name is data")
        .into_inner()
        .user
        .unwrap();
    assert_eq!(updated.full_name, name);
    let read = identity
        .get_user(authed(
            GetUserRequest {
                user_id: user.id.clone(),
            },
            &admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(read.full_name, name, "read back byte for byte");
    // The users table is still there and still answers.
    let session = identity
        .login(login("ada.lovelace@example.com", PASSWORD, PbRole::Learner))
        .await
        .expect("the account still logs in")
        .into_inner();
    let err = GamificationServiceClient::new(server.channel())
        .get_leaderboard(authed(
            GetLeaderboardRequest {
                scope: stride::proto::gamification::v1::LeaderboardScope::Course as i32,
                course_id: "00000000-0000-0000-0000-000000000000' OR 1=1 --".into(),
                ..Default::default()
            },
            &session.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("course_id"), "{}", err.message());
}

/// How long after `change` returned `call` keeps working on `server`, at
/// most `limit` (polled every 20 ms); `None` when it still works then.
async fn works_for(
    limit: std::time::Duration,
    mut call: impl AsyncFnMut() -> Result<(), tonic::Status>,
) -> Option<(std::time::Duration, tonic::Status)> {
    let started = tokio::time::Instant::now();
    while started.elapsed() < limit {
        if let Err(status) = call().await {
            return Some((started.elapsed(), status));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

/// Repeated calls with one token are answered from a verdict held in
/// memory; a logout, a role revocation or a deactivation made through
/// another replica still stops the token here within the second the
/// service promises (STRIDE_TOKEN_VERDICT_MS, at most 1 s).
#[tokio::test(flavor = "multi_thread")]
async fn a_change_made_through_another_replica_stops_a_token_within_a_second() {
    use std::time::Duration;
    let (server, mut identity, admin_token, user) = setup().await;
    let replica = server.serve_again(stride::config::Limits::default()).await;
    let there = IdentityServiceClient::new(replica.channel());
    let session = |role| {
        let mut identity = identity.clone();
        async move {
            identity
                .login(login("ada.lovelace@example.com", PASSWORD, role))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let who_am_i = |client: &IdentityServiceClient<Channel>, token: &str| {
        let (mut client, request) = (client.clone(), authed(WhoAmIRequest::default(), token));
        async move { client.who_am_i(request).await.map(|_| ()) }
    };

    // Calls in quick succession: most are answered without a database check.
    let learner = session(PbRole::Learner).await;
    let (memory, database) = (
        token_verdicts(&replica, "memory").await,
        token_verdicts(&replica, "database").await,
    );
    for _ in 0..20 {
        who_am_i(&there, &learner.access_token).await.unwrap();
    }
    let from_memory = token_verdicts(&replica, "memory").await - memory;
    let from_database = token_verdicts(&replica, "database").await - database;
    assert_eq!(from_memory + from_database, 20);
    assert!(
        from_memory >= 10,
        "{from_memory} of 20 calls answered from memory"
    );

    // The bound: the change commits before its call returns; the token then
    // works on the other replica for less than a second (polling adds a
    // little).
    let bound = Duration::from_millis(1_500);
    let trainer = session(PbRole::Trainer).await;
    let learner_again = session(PbRole::Learner).await;
    for token in [&trainer.access_token, &learner_again.access_token] {
        who_am_i(&there, token).await.expect("held as good there");
    }

    identity
        .logout(authed(LogoutRequest::default(), &learner.access_token))
        .await
        .unwrap();
    let (took, status) = works_for(bound, async || {
        who_am_i(&there, &learner.access_token).await
    })
    .await
    .expect("a token logged out elsewhere is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{took:?} {status:?}");

    revoke_trainer(&mut identity, &user, &admin_token).await;
    let (_, status) = works_for(bound, async || {
        who_am_i(&there, &trainer.access_token).await
    })
    .await
    .expect("a role revoked elsewhere is refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    deactivate(&mut identity, &user, &admin_token).await;
    let (_, status) = works_for(bound, async || {
        who_am_i(&there, &learner_again.access_token).await
    })
    .await
    .expect("a user deactivated elsewhere is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("deactivated"), "{status:?}");
}
