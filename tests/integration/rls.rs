//! Row-level security as the runtime role `stride_app` meets it: the second
//! line of defense behind the service's own checks, tested on the demo data
//! with the service's own transaction helper.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::Role;
use stride::db::tenant::{Begin, DbIdentity, transaction};
use stride::demo::plan::{DEMO_ADMIN, DEMO_ORG, OTHER_ORG};
use uuid::Uuid;

use crate::harness::TestDb;

/// Every table holding people's or tenants' rows.
const TENANT_TABLES: &[&str] = &[
    "organizations",
    "departments",
    "users",
    "user_roles",
    "user_preferences",
    "refresh_tokens",
    "courses",
    "lessons",
    "learning_paths",
    "learning_path_courses",
    "course_skills",
    "org_priority_skills",
    "job_role_skills",
    "enrollments",
    "event_receipts",
    "learning_events",
    "assessments",
    "user_skills",
    "daily_activity",
    "point_transactions",
    "user_points",
    "streak_freeze_events",
    "user_achievements",
    "analytics_cache",
    "analytics_history",
    "erasure_audit",
];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> diesel::QueryResult<i64> {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .map(|c| c.n)
}

/// A counting query run as `identity` through the service's helper.
async fn count_as(db: &TestDb, identity: &DbIdentity, sql: impl Into<String>) -> i64 {
    let sql = sql.into();
    let mut conn = AsyncPgConnection::establish(&db.app_url)
        .await
        .expect("app connection");
    transaction::<_, diesel::result::Error>(&mut conn, Begin::writing(identity), |conn| {
        Box::pin(async move { count(conn, &sql).await })
    })
    .await
    .expect("count as identity")
}

async fn demo_db() -> TestDb {
    let db = TestDb::migrated().await;
    stride::demo::fill(&db.url, 60, 5).await.expect("demo data");
    db
}

/// Some learner of the demo org with events, and a trainer with students.
async fn pick(db: &TestDb, sql: &str) -> Uuid {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let mut owner = db.connect().await;
    let row: Id = diesel::sql_query(sql)
        .get_result(&mut owner)
        .await
        .expect("pick a user");
    row.id.parse().expect("uuid")
}

#[tokio::test(flavor = "multi_thread")]
async fn without_identity_the_runtime_role_reads_nothing_and_writes_nothing() {
    let db = demo_db().await;
    let mut owner = db.connect().await;
    let mut app = AsyncPgConnection::establish(&db.app_url)
        .await
        .expect("app connection");
    for table in TENANT_TABLES {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let hidden = count(&mut app, &sql).await.expect("select as stride_app");
        assert_eq!(hidden, 0, "{table} must read empty without an identity");
        if [
            "users",
            "learning_events",
            "enrollments",
            "daily_activity",
            "courses",
        ]
        .contains(table)
        {
            assert!(
                count(&mut owner, &sql).await.unwrap() > 0,
                "{table} has demo rows"
            );
        }
    }
    let insert = diesel::sql_query(format!(
        "INSERT INTO users (organization_id, email) VALUES ('{DEMO_ORG}', 'intruder@example.com')"
    ))
    .execute(&mut app)
    .await;
    let err = insert
        .expect_err("insert without identity is refused")
        .to_string();
    assert!(err.contains("row-level security"), "refused by RLS: {err}");
    let updated = diesel::sql_query("UPDATE users SET full_name = 'x'")
        .execute(&mut app)
        .await
        .expect("update runs");
    assert_eq!(updated, 0, "no row is visible to update");
    let deleted = diesel::sql_query("DELETE FROM learning_events")
        .execute(&mut app)
        .await
        .unwrap();
    assert_eq!(deleted, 0, "no row is visible to delete");
    assert!(
        count(&mut owner, "SELECT count(*) AS n FROM learning_events")
            .await
            .unwrap()
            > 0,
        "nothing was deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_materialized_views_and_ddl_are_out_of_reach() {
    let db = demo_db().await;
    let mut app = AsyncPgConnection::establish(&db.app_url)
        .await
        .expect("app connection");
    for sql in [
        "SELECT count(*) AS n FROM learning_events_default",
        "SELECT count(*) AS n FROM leaderboard_weekly",
        "SELECT count(*) AS n FROM skill_demand_aggregates",
    ] {
        let err = count(&mut app, sql).await.expect_err(sql).to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    assert_eq!(
        count(
            &mut app,
            "SELECT count(*) AS n FROM tenant_leaderboard_weekly"
        )
        .await
        .unwrap(),
        0
    );
    let err = diesel::sql_query("INSERT INTO time_zones (name) VALUES ('Mars/Olympus')")
        .execute(&mut app)
        .await
        .expect_err("reference data is read-only");
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = diesel::sql_query("ALTER TABLE users DISABLE ROW LEVEL SECURITY")
        .execute(&mut app)
        .await
        .expect_err("not the owner");
    assert!(err.to_string().contains("must be owner"), "{err}");
    let err = diesel::sql_query(
        "SELECT stride_ensure_monthly_partitions('learning_events', now()::date, now()::date)",
    )
    .execute(&mut app)
    .await
    .expect_err("partition upkeep is not the runtime role's");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_learner_sees_only_own_rows_and_identity_ends_with_the_transaction() {
    let db = demo_db().await;
    let learner = pick(
        &db,
        &format!(
            "SELECT e.user_id::text AS id FROM learning_events e
              JOIN user_roles r ON r.user_id = e.user_id AND r.role = 'learner'
             WHERE e.organization_id = '{DEMO_ORG}' GROUP BY e.user_id ORDER BY e.user_id LIMIT 1"
        ),
    )
    .await;
    let me = DbIdentity::user(learner, DEMO_ORG, Role::Learner);
    assert_eq!(
        count_as(&db, &me, "SELECT count(*) AS n FROM users").await,
        1
    );
    assert!(count_as(&db, &me, "SELECT count(*) AS n FROM learning_events").await > 0);
    let foreign = count_as(
        &db,
        &me,
        "SELECT count(*) AS n FROM learning_events WHERE user_id <> nullif(current_setting('stride.user_id', true), '')::uuid",
    )
    .await;
    assert_eq!(foreign, 0, "no other learner's events");
    // Catalogue of the own organization is visible, the other tenant's is not.
    assert!(count_as(&db, &me, "SELECT count(*) AS n FROM courses").await > 0);
    assert_eq!(
        count_as(&db, &me, "SELECT count(*) AS n FROM organizations").await,
        1,
        "only the own organization"
    );

    // set_config(..., true) is local: the same connection forgets the identity.
    let mut conn = AsyncPgConnection::establish(&db.app_url).await.unwrap();
    transaction::<_, diesel::result::Error>(&mut conn, Begin::writing(&me), |conn| {
        Box::pin(async move { count(conn, "SELECT count(*) AS n FROM users").await })
    })
    .await
    .unwrap();
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM users")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trainer_sees_exactly_the_students_of_own_courses() {
    let db = demo_db().await;
    let trainer = pick(
        &db,
        &format!(
            "SELECT c.trainer_id::text AS id FROM courses c JOIN enrollments e ON e.course_id = c.id
              WHERE c.organization_id = '{DEMO_ORG}' GROUP BY c.trainer_id ORDER BY c.trainer_id LIMIT 1"
        ),
    )
    .await;
    let mut owner = db.connect().await;
    let students = count(
        &mut owner,
        &format!(
            "SELECT count(DISTINCT e.user_id) AS n FROM enrollments e JOIN courses c ON c.id = e.course_id
              WHERE c.trainer_id = '{trainer}' AND e.user_id <> '{trainer}'"
        ),
    )
    .await
    .unwrap();
    assert!(students > 0);
    let me = DbIdentity::user(trainer, DEMO_ORG, Role::Trainer);
    let visible = count_as(&db, &me, "SELECT count(*) AS n FROM users").await;
    assert_eq!(visible, students + 1, "own students plus self");
    let event_users = count_as(
        &db,
        &me,
        "SELECT count(DISTINCT user_id) AS n FROM learning_events",
    )
    .await;
    assert!(event_users <= students + 1 && event_users > 0);

    // Enrollments have their own policy: those of the trainer's courses
    // and the trainer's own, not the rest of the organization's.
    let theirs = count(
        &mut owner,
        &format!(
            "SELECT count(*) AS n FROM enrollments e JOIN courses c ON c.id = e.course_id
              WHERE e.organization_id = '{DEMO_ORG}' AND (c.trainer_id = '{trainer}' OR e.user_id = '{trainer}')"
        ),
    )
    .await
    .unwrap();
    let all = count(
        &mut owner,
        &format!("SELECT count(*) AS n FROM enrollments WHERE organization_id = '{DEMO_ORG}'"),
    )
    .await
    .unwrap();
    assert!(
        theirs < all,
        "the organization has enrollments of other courses"
    );
    let enrollments = count_as(&db, &me, "SELECT count(*) AS n FROM enrollments").await;
    assert_eq!(enrollments, theirs);
}

#[tokio::test(flavor = "multi_thread")]
async fn org_admins_see_their_org_and_platform_admins_see_all() {
    let db = demo_db().await;
    let mut owner = db.connect().await;
    let org_users = count(
        &mut owner,
        &format!("SELECT count(*) AS n FROM users WHERE organization_id = '{DEMO_ORG}'"),
    )
    .await
    .unwrap();
    let all_users = count(&mut owner, "SELECT count(*) AS n FROM users")
        .await
        .unwrap();
    assert!(all_users > org_users, "a second tenant exists");

    let admin = DbIdentity::user(DEMO_ADMIN, DEMO_ORG, Role::OrgAdmin);
    assert_eq!(
        count_as(&db, &admin, "SELECT count(*) AS n FROM users").await,
        org_users
    );
    let other_org = count_as(
        &db,
        &admin,
        "SELECT count(*) AS n FROM users WHERE organization_id <> nullif(current_setting('stride.org_id', true), '')::uuid",
    )
    .await;
    assert_eq!(other_org, 0, "no cross-organization reads");

    let platform = DbIdentity::user(DEMO_ADMIN, DEMO_ORG, Role::PlatformAdmin);
    assert_eq!(
        count_as(&db, &platform, "SELECT count(*) AS n FROM users").await,
        all_users
    );

    // A service token scoped to the other org sees that org only.
    let service = DbIdentity::service(Some(OTHER_ORG));
    let seen = count_as(&db, &service, "SELECT count(*) AS n FROM users").await;
    assert_eq!(seen, all_users - org_users);
}

/// A statement run as `identity` (its result, or the refusal).
async fn exec_as(db: &TestDb, identity: &DbIdentity, sql: String) -> diesel::QueryResult<usize> {
    let mut conn = AsyncPgConnection::establish(&db.app_url)
        .await
        .expect("app connection");
    transaction::<_, diesel::result::Error>(&mut conn, Begin::writing(identity), |conn| {
        Box::pin(async move { diesel::sql_query(sql).execute(conn).await })
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_analytics_reader_reads_one_organization_and_writes_only_its_cache() {
    let db = demo_db().await;
    let mut owner = db.connect().await;
    let in_org = |table: &str| {
        format!("SELECT count(*) AS n FROM {table} WHERE organization_id = '{DEMO_ORG}'")
    };
    let reader = DbIdentity::analytics(Some(DEMO_ORG));
    for table in ["users", "enrollments", "daily_activity", "assessments"] {
        let expected = count(&mut owner, &in_org(table)).await.unwrap();
        assert!(expected > 0, "{table} has demo rows");
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(
            count_as(&db, &reader, sql).await,
            expected,
            "{table}: its organization, all of it"
        );
    }
    let other = count_as(
        &db,
        &reader,
        "SELECT count(*) AS n FROM users WHERE organization_id <> nullif(current_setting('stride.org_id', true), '')::uuid",
    )
    .await;
    assert_eq!(other, 0, "no other organization");

    // Read-only on the data: inserts refused, updates and deletes see nothing.
    let user = pick(
        &db,
        &format!("SELECT id::text AS id FROM users WHERE organization_id = '{DEMO_ORG}' LIMIT 1"),
    )
    .await;
    let insert = exec_as(
        &db,
        &reader,
        format!("INSERT INTO daily_activity (user_id, local_date, organization_id, first_activity_at, last_activity_at) \
                 VALUES ('{user}', '2020-01-01', '{DEMO_ORG}', now(), now())"),
    )
    .await;
    assert!(
        insert
            .expect_err("refused")
            .to_string()
            .contains("row-level security")
    );
    assert_eq!(
        exec_as(&db, &reader, "UPDATE users SET full_name = 'x'".into())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        exec_as(&db, &reader, "DELETE FROM learning_events".into())
            .await
            .unwrap(),
        0
    );
    let course = pick(
        &db,
        &format!("SELECT id::text AS id FROM courses WHERE organization_id = '{DEMO_ORG}' LIMIT 1"),
    )
    .await;
    let skill = pick(&db, "SELECT id::text AS id FROM skills LIMIT 1").await;
    let link = format!(
        "INSERT INTO course_skills (course_id, skill_id) VALUES ('{course}', '{skill}') ON CONFLICT DO NOTHING"
    );
    for identity in [
        reader.clone(),
        DbIdentity::user(user, DEMO_ORG, Role::Learner),
    ] {
        let refused = exec_as(&db, &identity, link.clone()).await;
        assert!(
            refused
                .expect_err("catalogue links are for catalogue writers")
                .to_string()
                .contains("row-level security"),
            "{identity:?}"
        );
    }

    // Its own organization's cache, and no other.
    let entry = |org: Uuid| {
        format!(
            "INSERT INTO analytics_cache (organization_id, kind, audience, subject_type, subject_id, result, expires_at) \
             VALUES ('{org}', 'learning_culture', 'organization', 'organization', '{org}', '{{}}', now() + interval '1 hour')"
        )
    };
    assert_eq!(exec_as(&db, &reader, entry(DEMO_ORG)).await.unwrap(), 1);
    let foreign = exec_as(&db, &reader, entry(OTHER_ORG)).await;
    assert!(
        foreign
            .expect_err("another organization's cache")
            .to_string()
            .contains("row-level security")
    );
}
