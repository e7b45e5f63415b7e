//! IdentityService over the real server, on the demo data: who may read and
//! change whom, and what bad input gets back.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::Role;
use stride::demo::plan::{DEMO_ADMIN, DEMO_ORG, DEMO_PLATFORM_ADMIN, OTHER_ORG};
use stride::proto::common::v1::{LeaderboardPrivacy, PageRequest, Role as PbRole};
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use stride::proto::identity::v1::*;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::harness::{TestServer, authed};

async fn demo_server() -> TestServer {
    let server = TestServer::start().await;
    stride::demo::fill(&server.db_url, 60, 5)
        .await
        .expect("demo data");
    server
}

/// The first id a query returns, as the owner.
async fn one_id(server: &TestServer, sql: &str) -> Uuid {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let mut conn = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    let row: Id = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .expect(sql);
    row.id.parse().unwrap()
}

async fn learner(server: &TestServer, nth: usize) -> Uuid {
    one_id(
        server,
        &format!(
            "SELECT u.id::text AS id FROM users u JOIN user_roles r ON r.user_id = u.id
              WHERE r.role = 'learner' AND u.organization_id = '{DEMO_ORG}' AND u.id <> '{DEMO_ADMIN}'
              ORDER BY u.id OFFSET {nth} LIMIT 1"
        ),
    )
    .await
}

fn client(server: &TestServer) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::new(server.channel())
}

fn get_user(id: Uuid) -> GetUserRequest {
    GetUserRequest {
        user_id: id.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_learner_reads_self_and_is_denied_anyone_else() {
    let server = demo_server().await;
    let (me, other) = (learner(&server, 0).await, learner(&server, 1).await);
    let token = server.user_token(me, DEMO_ORG, Role::Learner);
    let mut identity = client(&server);

    let mine = identity
        .get_user(authed(GetUserRequest::default(), &token))
        .await
        .unwrap();
    let user = mine.into_inner().user.unwrap();
    assert_eq!(user.id, me.to_string());
    assert_eq!(user.roles, vec![PbRole::Learner as i32]);

    let err = identity
        .get_user(authed(get_user(other), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        !err.message().contains(&other.to_string()),
        "no data leaks in the error"
    );
    let err = identity
        .get_preferences(authed(
            GetPreferencesRequest {
                user_id: other.to_string(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trainer_reads_own_students_and_not_others() {
    let server = demo_server().await;
    let trainer = one_id(
        &server,
        &format!(
            "SELECT c.trainer_id::text AS id FROM courses c JOIN enrollments e ON e.course_id = c.id
              WHERE c.organization_id = '{DEMO_ORG}' GROUP BY c.trainer_id ORDER BY c.trainer_id LIMIT 1"
        ),
    )
    .await;
    let student = one_id(
        &server,
        &format!(
            "SELECT e.user_id::text AS id FROM enrollments e JOIN courses c ON c.id = e.course_id
              WHERE c.trainer_id = '{trainer}' ORDER BY e.user_id LIMIT 1"
        ),
    )
    .await;
    let stranger = one_id(
        &server,
        &format!(
            "SELECT u.id::text AS id FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'learner'
              WHERE u.organization_id = '{DEMO_ORG}' AND NOT EXISTS (
                SELECT 1 FROM enrollments e JOIN courses c ON c.id = e.course_id
                 WHERE e.user_id = u.id AND c.trainer_id = '{trainer}')
              ORDER BY u.id LIMIT 1"
        ),
    )
    .await;
    let token = server.user_token(trainer, DEMO_ORG, Role::Trainer);
    let mut identity = client(&server);
    let seen = identity
        .get_user(authed(get_user(student), &token))
        .await
        .unwrap();
    assert_eq!(seen.into_inner().user.unwrap().id, student.to_string());
    let err = identity
        .get_user(authed(get_user(stranger), &token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "outside the trainer's scope the row does not exist"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_admin_pages_through_the_org_and_never_sees_another() {
    let server = demo_server().await;
    let token = server.user_token(DEMO_ADMIN, DEMO_ORG, Role::OrgAdmin);
    let mut identity = client(&server);
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let reply = identity
            .list_users(authed(
                ListUsersRequest {
                    page: Some(PageRequest {
                        page_size: 25,
                        page_token: page_token.clone(),
                    }),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(reply.users.len() <= 25);
        seen.extend(reply.users.iter().map(|u| u.id.clone()));
        assert!(
            reply
                .users
                .iter()
                .all(|u| u.organization_id == DEMO_ORG.to_string())
        );
        page_token = reply.page.unwrap().next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    // 60 learners + admin + platform admin + 6 trainers, each once.
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user on two pages");
    assert_eq!(seen.len(), 68);

    let trainers = identity
        .list_users(authed(
            ListUsersRequest {
                role: PbRole::Trainer as i32,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trainers.users.len(), 6);

    let err = identity
        .list_users(authed(
            ListUsersRequest {
                organization_id: OTHER_ORG.to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let other_user = one_id(
        &server,
        &format!("SELECT id::text AS id FROM users WHERE organization_id = '{OTHER_ORG}' LIMIT 1"),
    )
    .await;
    let err = identity
        .get_user(authed(get_user(other_user), &token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "cross-organization reads find nothing"
    );

    let err = identity
        .list_users(authed(
            ListUsersRequest {
                page: Some(PageRequest {
                    page_size: 10_000,
                    page_token: String::new(),
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "page.page_size"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn org_admins_manage_users_of_their_org_without_escalating() {
    let server = demo_server().await;
    let token = server.user_token(DEMO_ADMIN, DEMO_ORG, Role::OrgAdmin);
    let mut identity = client(&server);
    let new_user = |email: &str, roles: Vec<i32>| CreateUserRequest {
        email: email.into(),
        full_name: "New Person".into(),
        password: "a long enough password".into(),
        roles,
        ..Default::default()
    };

    let created = identity
        .create_user(authed(
            new_user("new.person@northwind.example", vec![]),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(created.organization_id, DEMO_ORG.to_string());
    assert_eq!(
        created.roles,
        vec![PbRole::Learner as i32],
        "learner by default"
    );
    assert_eq!(
        created.time_zone, "Europe/Berlin",
        "the organization's time zone"
    );

    let err = identity
        .create_user(authed(
            new_user("NEW.PERSON@northwind.example", vec![]),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::AlreadyExists,
        "emails are unique, case-insensitively"
    );

    let err = identity
        .create_user(authed(
            new_user("boss@northwind.example", vec![PbRole::PlatformAdmin as i32]),
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "no escalation to platform_admin"
    );

    let mut elsewhere = new_user("spy@contoso.example", vec![]);
    elsewhere.organization_id = OTHER_ORG.to_string();
    let err = identity
        .create_user(authed(elsewhere, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let mut bad = new_user("not-an-email", vec![]);
    bad.password = "short".into();
    bad.time_zone = "Mars/Olympus".into();
    let err = identity.create_user(authed(bad, &token)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<_> = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, vec!["email", "password", "time_zone"]);

    let granted = identity
        .grant_role(authed(
            GrantRoleRequest {
                user_id: created.id.clone(),
                role: PbRole::Trainer as i32,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(granted.roles.len(), 2);
    let err = identity
        .grant_role(authed(
            GrantRoleRequest {
                user_id: created.id.clone(),
                role: PbRole::PlatformAdmin as i32,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let revoked = identity
        .revoke_role(authed(
            RevokeRoleRequest {
                user_id: created.id.clone(),
                role: PbRole::Trainer as i32,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(revoked.roles, vec![PbRole::Learner as i32]);

    let gone = identity
        .deactivate_user(authed(
            DeactivateUserRequest {
                user_id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(!gone.active);
    assert!(gone.deactivated_at.is_some());

    // A learner may not administer anyone: the policy table refuses.
    let learner_token = server.user_token(learner(&server, 0).await, DEMO_ORG, Role::Learner);
    let err = identity
        .create_user(authed(
            new_user("x@northwind.example", vec![]),
            &learner_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_admins_create_organizations_with_validation() {
    let server = demo_server().await;
    let token = server.user_token(DEMO_PLATFORM_ADMIN, DEMO_ORG, Role::PlatformAdmin);
    let mut identity = client(&server);
    let id = Uuid::new_v4();
    let created = identity
        .create_organization(authed(
            CreateOrganizationRequest {
                id: id.to_string(),
                name: "Fabrikam".into(),
                time_zone: "Asia/Tokyo".into(),
                settings_json: r#"{"week_goal": 3}"#.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(created.id, id.to_string());
    assert_eq!(created.time_zone, "Asia/Tokyo");
    let again = identity
        .create_organization(authed(
            CreateOrganizationRequest {
                id: id.to_string(),
                name: "Fabrikam".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let bad = identity
        .create_organization(authed(
            CreateOrganizationRequest {
                name: String::new(),
                time_zone: "Nowhere/City".into(),
                settings_json: "[1,2]".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        bad.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .len(),
        3
    );

    // The platform admin reads any organization; an org admin only its own.
    let other = identity
        .get_organization(authed(
            GetOrganizationRequest {
                id: OTHER_ORG.to_string(),
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(
        other.into_inner().organization.unwrap().name,
        "Contoso Academy"
    );
    let admin = server.user_token(DEMO_ADMIN, DEMO_ORG, Role::OrgAdmin);
    let err = identity
        .get_organization(authed(
            GetOrganizationRequest {
                id: OTHER_ORG.to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn preferences_round_trip_with_a_field_mask() {
    let server = demo_server().await;
    let me = learner(&server, 2).await;
    let token = server.user_token(me, DEMO_ORG, Role::Learner);
    let mut identity = client(&server);
    let defaults = identity
        .get_preferences(authed(GetPreferencesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(
        defaults.leaderboard_privacy,
        LeaderboardPrivacy::Public as i32
    );
    assert!(!defaults.drop_off_risk_opt_out);

    let updated = identity
        .update_preferences(authed(
            UpdatePreferencesRequest {
                user_id: String::new(),
                preferences: Some(Preferences {
                    leaderboard_privacy: LeaderboardPrivacy::Hidden as i32,
                    drop_off_risk_opt_out: true,
                    forecasting_opt_out: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["leaderboard_privacy".into(), "drop_off_risk_opt_out".into()],
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(
        updated.leaderboard_privacy,
        LeaderboardPrivacy::Hidden as i32
    );
    assert!(updated.drop_off_risk_opt_out);
    assert!(!updated.forecasting_opt_out, "not in the mask: unchanged");

    let reread = identity
        .get_preferences(authed(GetPreferencesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(
        reread.leaderboard_privacy,
        LeaderboardPrivacy::Hidden as i32
    );

    let err = identity
        .update_preferences(authed(
            UpdatePreferencesRequest {
                user_id: String::new(),
                preferences: Some(Preferences::default()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["password".into()],
                }),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn organizations_and_users_are_updated_through_field_masks() {
    let server = demo_server().await;
    let platform = server.user_token(DEMO_PLATFORM_ADMIN, DEMO_ORG, Role::PlatformAdmin);
    let mut identity = client(&server);

    let updated = identity
        .update_organization(authed(
            UpdateOrganizationRequest {
                organization: Some(Organization {
                    id: OTHER_ORG.to_string(),
                    name: "ignored: not in the mask".into(),
                    time_zone: "Europe/Lisbon".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["time_zone".into()],
                }),
            },
            &platform,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(updated.time_zone, "Europe/Lisbon");
    assert_eq!(updated.name, "Contoso Academy");

    let first = identity
        .list_organizations(authed(
            ListOrganizationsRequest {
                page: Some(PageRequest {
                    page_size: 1,
                    page_token: String::new(),
                }),
            },
            &platform,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.organizations.len(), 1);
    let token = first.page.unwrap().next_page_token;
    let second = identity
        .list_organizations(authed(
            ListOrganizationsRequest {
                page: Some(PageRequest {
                    page_size: 1,
                    page_token: token,
                }),
            },
            &platform,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.organizations.len(), 1);
    assert_ne!(second.organizations[0].id, first.organizations[0].id);

    // An org admin renames a learner and sets a password; the learner logs in.
    let admin = server.user_token(DEMO_ADMIN, DEMO_ORG, Role::OrgAdmin);
    let target = learner(&server, 3).await;
    let renamed = identity
        .update_user(authed(
            UpdateUserRequest {
                user: Some(User {
                    id: target.to_string(),
                    full_name: "Renamed Learner".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
                password: Some("a brand new passphrase".into()),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(renamed.full_name, "Renamed Learner");
    identity
        .login(LoginRequest {
            email: renamed.email.clone(),
            password: "a brand new passphrase".into(),
            role: 0,
        })
        .await
        .expect("the new password works");

    let err = identity
        .update_user(authed(
            UpdateUserRequest {
                user: Some(User {
                    id: target.to_string(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["organization_id".into()],
                }),
                password: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "tenants cannot be switched by update"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_platform_admins_read_across_organizations() {
    let server = demo_server().await;
    let stranger = one_id(
        &server,
        &format!("SELECT id::text AS id FROM users WHERE organization_id = '{OTHER_ORG}' ORDER BY id LIMIT 1"),
    )
    .await;
    let mut identity = client(&server);
    for role in [Role::Learner, Role::Trainer, Role::OrgAdmin] {
        let (me, _) = server.person(Some(DEMO_ORG), &[role]).await;
        let token = server.user_token(me, DEMO_ORG, role);
        let err = identity
            .get_user(authed(get_user(stranger), &token))
            .await
            .unwrap_err();
        assert!(
            matches!(err.code(), Code::PermissionDenied | Code::NotFound),
            "{role} read another organization's user: {err:?}"
        );
        let err = identity
            .get_preferences(authed(
                GetPreferencesRequest {
                    user_id: stranger.to_string(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(err.code(), Code::PermissionDenied | Code::NotFound),
            "{role}"
        );
    }
    let platform = server.user_token(DEMO_PLATFORM_ADMIN, DEMO_ORG, Role::PlatformAdmin);
    let seen = identity
        .get_user(authed(get_user(stranger), &platform))
        .await
        .unwrap();
    assert_eq!(
        seen.into_inner().user.unwrap().organization_id,
        OTHER_ORG.to_string()
    );
}
