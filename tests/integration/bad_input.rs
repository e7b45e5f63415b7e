//! The bad-input matrix: timestamps at the extremes, non-finite and
//! overflowing numbers, the NUL character in text, unknown enum values,
//! huge page sizes, deeply nested JSON and protobuf Structs. Each answers
//! INVALID_ARGUMENT naming its field (never INTERNAL), stores nothing, and
//! the server keeps serving.

use futures::future::BoxFuture;
use stride::auth::{Role, Scope};
use stride::proto::analytics::v1 as an;
use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use stride::proto::common::v1::PageRequest;
use stride::proto::events::v1 as ev;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::gamification::v1 as gm;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
use stride::proto::identity::v1 as id;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{TestServer, authed};
use crate::ingest_support::{Fixture, count, timestamp};

type Call = BoxFuture<'static, Result<(), tonic::Status>>;

/// A course completion by the fixture's first learner, an hour ago.
fn event(fx: &Fixture, id: &str) -> ev::Event {
    ev::Event {
        event_id: id.into(),
        occurred_at: timestamp(chrono::Utc::now() - chrono::Duration::hours(1)),
        user_id: fx.users[0].to_string(),
        organization_id: String::new(),
        payload: Some(ev::event::Payload::CourseCompleted(ev::CourseCompleted {
            course_id: fx.courses[0].to_string(),
        })),
    }
}

fn at(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

/// A JSON text nested `depth` levels deep in the criteria language.
fn nested_criteria(depth: usize) -> String {
    format!(
        "{}{{\"metric\": \"courses_completed\", \"gte\": 1}}{}",
        "{\"all\": [".repeat(depth),
        "]}".repeat(depth)
    )
}

/// A protobuf Struct nested `depth` levels deep.
fn nested_struct(depth: usize) -> prost_types::Struct {
    use prost_types::value::Kind;
    let mut inner = prost_types::Struct::default();
    for _ in 0..depth {
        let mut outer = prost_types::Struct::default();
        outer.fields.insert(
            "n".into(),
            prost_types::Value {
                kind: Some(Kind::StructValue(inner)),
            },
        );
        inner = outer;
    }
    inner
}

fn page(size: u32) -> Option<PageRequest> {
    Some(PageRequest {
        page_size: size,
        page_token: String::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_invalid_argument_naming_its_field_and_stores_nothing() {
    let server = TestServer::start().await;
    let fx = Fixture::new(60);
    fx.create(&server.db_url).await;
    let (admin, _) = server.person(Some(fx.org), &[Role::OrgAdmin]).await;
    let (platform, _) = server.person(Some(fx.org), &[Role::PlatformAdmin]).await;
    let admin_token = server.user_token(admin, fx.org, Role::OrgAdmin);
    let learner_token = server.user_token(fx.users[0], fx.org, Role::Learner);
    let platform_token = server.user_token(platform, fx.org, Role::PlatformAdmin);
    let service =
        server.org_service_token("lms", fx.org, &[Scope::EventsWrite, Scope::CatalogWrite]);
    let channel = server.channel();

    let publish = |event: ev::Event| -> Call {
        let mut client = EventServiceClient::new(channel.clone());
        let token = service.clone();
        Box::pin(async move {
            let request = ev::PublishEventRequest { event: Some(event) };
            client
                .publish_event(authed(request, &token))
                .await
                .map(drop)
        })
    };
    let with = |change: &dyn Fn(&mut ev::Event)| {
        let mut e = event(&fx, "bad");
        change(&mut e);
        e
    };
    let graded = |score: f64| {
        with(&|e| {
            e.payload = Some(ev::event::Payload::AssessmentGraded(ev::AssessmentGraded {
                course_id: fx.courses[0].to_string(),
                assessment_id: "quiz".into(),
                skill_id: String::new(),
                score,
            }))
        })
    };
    let progress = |percent: f64| {
        with(&|e| {
            e.payload = Some(ev::event::Payload::ProgressUpdated(ev::ProgressUpdated {
                course_id: fx.courses[0].to_string(),
                progress_percent: percent,
            }))
        })
    };
    let mastery = |level: f64| {
        with(&|e| {
            e.payload = Some(ev::event::Payload::SkillMasteryUpdated(
                ev::SkillMasteryUpdated {
                    skill_id: fx.skills[0].to_string(),
                    mastery: level,
                },
            ))
        })
    };
    let session = |started: i64, ended: i64| {
        with(&|e| {
            e.payload = Some(ev::event::Payload::LearningSession(ev::LearningSession {
                session_id: "s".into(),
                started_at: at(started, 0),
                ended_at: at(ended, 0),
            }))
        })
    };
    let board = |request: gm::GetLeaderboardRequest| -> Call {
        let mut client = GamificationServiceClient::new(channel.clone());
        let token = learner_token.clone();
        Box::pin(async move {
            client
                .get_leaderboard(authed(request, &token))
                .await
                .map(drop)
        })
    };
    let achievement = |name: &str, tier: i32, criteria_json: String| -> Call {
        let mut client = GamificationServiceClient::new(channel.clone());
        let token = admin_token.clone();
        let request = gm::CreateAchievementRequest {
            id: "custom_badge".into(),
            name: name.into(),
            description: String::new(),
            icon: String::new(),
            tier,
            criteria_json,
        };
        Box::pin(async move {
            client
                .create_achievement(authed(request, &token))
                .await
                .map(drop)
        })
    };
    let rename = |full_name: &str| -> Call {
        let mut client = IdentityServiceClient::new(channel.clone());
        let token = admin_token.clone();
        let request = id::UpdateUserRequest {
            user: Some(id::User {
                id: fx.users[1].to_string(),
                full_name: full_name.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["full_name".into()],
            }),
            password: None,
        };
        Box::pin(async move { client.update_user(authed(request, &token)).await.map(drop) })
    };
    let now = chrono::Utc::now().timestamp();

    let cases: Vec<(&str, Call, &str)> = vec![
        // Timestamps at the extremes.
        (
            "seconds = i64::MIN",
            publish(with(&|e| e.occurred_at = at(i64::MIN, 0))),
            "occurred_at",
        ),
        (
            "seconds = i64::MAX",
            publish(with(&|e| e.occurred_at = at(i64::MAX, 0))),
            "occurred_at",
        ),
        (
            "nanos out of range",
            publish(with(&|e| e.occurred_at = at(now - 60, 2_000_000_000))),
            "occurred_at",
        ),
        (
            "negative nanos",
            publish(with(&|e| e.occurred_at = at(now - 60, -1))),
            "occurred_at",
        ),
        (
            "year 9999",
            publish(with(&|e| e.occurred_at = at(253_402_300_799, 0))),
            "occurred_at",
        ),
        (
            "the epoch (an unset timestamp)",
            publish(with(&|e| e.occurred_at = at(0, 0))),
            "occurred_at",
        ),
        (
            "session ending at i64::MAX",
            publish(session(now - 60, i64::MAX)),
            "learning_session.ended_at",
        ),
        // Numbers.
        (
            "score NaN",
            publish(graded(f64::NAN)),
            "assessment_graded.score",
        ),
        (
            "score -inf",
            publish(graded(f64::NEG_INFINITY)),
            "assessment_graded.score",
        ),
        (
            "score f64::MAX",
            publish(graded(f64::MAX)),
            "assessment_graded.score",
        ),
        (
            "progress +inf",
            publish(progress(f64::INFINITY)),
            "progress_updated.progress_percent",
        ),
        (
            "progress -0.001",
            publish(progress(-0.001)),
            "progress_updated.progress_percent",
        ),
        (
            "mastery NaN",
            publish(mastery(f64::NAN)),
            "skill_mastery_updated.mastery",
        ),
        (
            "criteria threshold 1e300",
            achievement(
                "Big",
                1,
                r#"{"metric": "courses_completed", "gte": 1e300}"#.into(),
            ),
            "criteria_json",
        ),
        (
            "criteria threshold negative",
            achievement(
                "Negative",
                1,
                r#"{"metric": "courses_completed", "gte": -5}"#.into(),
            ),
            "criteria_json",
        ),
        // The NUL character, which PostgreSQL cannot store.
        (
            "NUL in event_id",
            publish(event(&fx, "bad\0id")),
            "event_id",
        ),
        (
            "NUL in assessment_id",
            publish(with(&|e| {
                e.payload = Some(ev::event::Payload::AssessmentGraded(ev::AssessmentGraded {
                    course_id: fx.courses[0].to_string(),
                    assessment_id: "quiz\0".into(),
                    skill_id: String::new(),
                    score: 50.0,
                }))
            })),
            "assessment_graded.assessment_id",
        ),
        ("NUL in full_name", rename("Ada\0Lovelace"), "full_name"),
        (
            "NUL in an achievement name",
            achievement(
                "Badge\0",
                1,
                r#"{"metric": "courses_completed", "gte": 1}"#.into(),
            ),
            "name",
        ),
        (
            "NUL in a login email",
            {
                let mut client = IdentityServiceClient::new(channel.clone());
                Box::pin(async move {
                    let request = id::LoginRequest {
                        email: "a\0@ingest.example".into(),
                        password: "a long passphrase".into(),
                        ..Default::default()
                    };
                    client.login(request).await.map(drop)
                })
            },
            "email",
        ),
        (
            "NUL in organization settings",
            {
                let mut client = IdentityServiceClient::new(channel.clone());
                let token = platform_token.clone();
                let request = id::UpdateOrganizationRequest {
                    organization: Some(id::Organization {
                        id: fx.org.to_string(),
                        settings_json: r#"{"theme": "dark\u0000"}"#.into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["settings_json".into()],
                    }),
                };
                Box::pin(async move {
                    client
                        .update_organization(authed(request, &token))
                        .await
                        .map(drop)
                })
            },
            "settings_json",
        ),
        (
            "NUL in a course name",
            {
                let mut client = EventServiceClient::new(channel.clone());
                let token = service.clone();
                let request = ev::UpsertCoursesRequest {
                    courses: vec![ev::Course {
                        id: uuid::Uuid::new_v4().to_string(),
                        name: "SQL\0".into(),
                        expected_lessons: 3,
                        ..Default::default()
                    }],
                };
                Box::pin(async move {
                    client
                        .upsert_courses(authed(request, &token))
                        .await
                        .map(drop)
                })
            },
            "courses[0].name",
        ),
        // Unknown enum values.
        (
            "leaderboard period 77",
            board(gm::GetLeaderboardRequest {
                period: 77,
                ..Default::default()
            }),
            "period",
        ),
        (
            "leaderboard scope 77",
            board(gm::GetLeaderboardRequest {
                scope: 77,
                ..Default::default()
            }),
            "scope",
        ),
        (
            "achievement tier 99",
            achievement(
                "Tier",
                99,
                r#"{"metric": "courses_completed", "gte": 1}"#.into(),
            ),
            "tier",
        ),
        (
            "leaderboard privacy 99",
            {
                let mut client = IdentityServiceClient::new(channel.clone());
                let token = learner_token.clone();
                let request = id::UpdatePreferencesRequest {
                    user_id: fx.users[0].to_string(),
                    preferences: Some(id::Preferences {
                        leaderboard_privacy: 99,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["leaderboard_privacy".into()],
                    }),
                };
                Box::pin(async move {
                    client
                        .update_preferences(authed(request, &token))
                        .await
                        .map(drop)
                })
            },
            "preferences.leaderboard_privacy",
        ),
        (
            "peer group 99",
            {
                let mut client = AnalyticsServiceClient::new(channel.clone());
                let token = learner_token.clone();
                let request = an::GetPeerComparisonRequest {
                    subject: Some(an::LearnerSubject {
                        user_id: fx.users[0].to_string(),
                    }),
                    group: 99,
                    ..Default::default()
                };
                Box::pin(async move {
                    client
                        .get_peer_comparison(authed(request, &token))
                        .await
                        .map(drop)
                })
            },
            "group",
        ),
        (
            "role 99",
            {
                let mut client = IdentityServiceClient::new(channel.clone());
                let token = admin_token.clone();
                let request = id::GrantRoleRequest {
                    user_id: fx.users[1].to_string(),
                    role: 99,
                };
                Box::pin(async move { client.grant_role(authed(request, &token)).await.map(drop) })
            },
            "role",
        ),
        // Page sizes.
        (
            "leaderboard page of u32::MAX",
            board(gm::GetLeaderboardRequest {
                page: page(u32::MAX),
                ..Default::default()
            }),
            "page.page_size",
        ),
        (
            "user list page of u32::MAX",
            {
                let mut client = IdentityServiceClient::new(channel.clone());
                let token = admin_token.clone();
                let request = id::ListUsersRequest {
                    page: page(u32::MAX),
                    ..Default::default()
                };
                Box::pin(async move { client.list_users(authed(request, &token)).await.map(drop) })
            },
            "page.page_size",
        ),
        (
            "a page token that is not one",
            {
                let mut client = GamificationServiceClient::new(channel.clone());
                let token = learner_token.clone();
                let request = gm::ListLedgerRequest {
                    page: Some(PageRequest {
                        page_size: 10,
                        page_token: "\0' OR 1=1 --".into(),
                    }),
                    ..Default::default()
                };
                Box::pin(async move { client.list_ledger(authed(request, &token)).await.map(drop) })
            },
            "page.page_token",
        ),
        // Nesting.
        (
            "criteria nested 300 deep",
            achievement("Deep", 1, nested_criteria(300)),
            "criteria_json",
        ),
        (
            "an xAPI statement nested 200 deep",
            {
                let mut client = EventServiceClient::new(channel.clone());
                let token = service.clone();
                let request = ev::ImportXapiStatementsRequest {
                    statements: vec![nested_struct(200)],
                    organization_id: String::new(),
                };
                Box::pin(async move {
                    client
                        .import_xapi_statements(authed(request, &token))
                        .await
                        .map(drop)
                })
            },
            // Refused by the decoder: no field violation, the reason.
            "",
        ),
    ];

    for (what, call, field) in cases {
        let status = call.await.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().len() < 1_000, "{what}: short answer");
        for leak in ["SQL", "diesel", "relation", "0x00", "syntax"] {
            assert!(
                !status.message().contains(leak),
                "{what}: {leak} in {status:?}"
            );
        }
        if field.is_empty() {
            assert!(
                status.message().contains("recursion limit"),
                "{what}: {status:?}"
            );
            continue;
        }
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert!(
            fields.iter().any(|f| f == field),
            "{what}: {field} not in {fields:?} ({status:?})"
        );
    }

    // Nothing stored, nothing changed.
    let db = &server.db_url;
    for table in ["event_receipts", "learning_events", "point_transactions"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(count(db, &sql).await, 0, "{table}");
    }
    let sql = "SELECT count(*) AS n FROM achievements WHERE organization_id IS NOT NULL";
    assert_eq!(count(db, sql).await, 0, "no custom achievement");
    let sql = format!(
        "SELECT count(*) AS n FROM users WHERE id = '{}' AND full_name = 'Learner 1'",
        fx.users[1]
    );
    assert_eq!(count(db, &sql).await, 1, "the name is unchanged");
    let sql = format!(
        "SELECT count(*) AS n FROM organizations WHERE id = '{}' AND settings = '{{}}'",
        fx.org
    );
    assert_eq!(count(db, &sql).await, 1, "the settings are unchanged");
    let sql = "SELECT count(*) AS n FROM courses WHERE name LIKE 'SQL%'";
    assert_eq!(count(db, sql).await, 0, "no course stored");

    // Still serving: a good event is accepted.
    publish(event(&fx, "good")).await.expect("a good event");
}
