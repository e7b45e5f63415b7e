//! Background jobs against a real database: one runner at a time
//! (advisory lock), retention by partition and by row, refreshes, upkeep.

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::AsyncConnection;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use stride::jobs::{Job, JobSettings, Outcome, run_once};
use stride::server::job_runner;
use uuid::Uuid;

use crate::harness::TestDb;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .expect(sql)
        .n
}

#[tokio::test]
async fn a_job_another_process_is_running_is_skipped_then_runs() {
    let db = TestDb::migrated().await;
    let settings = job_runner(JobSettings::default());
    // Another replica in the middle of the job: it holds the lock.
    let mut other = db.connect().await;
    AnsiTransactionManager::begin_transaction(&mut other)
        .await
        .unwrap();
    other
        .batch_execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('stride.job:refresh_skill_demand', 0))",
        )
        .await
        .unwrap();
    let skipped = run_once(&db.url, Job::RefreshSkillDemand, &settings)
        .await
        .unwrap();
    assert_eq!(skipped, Outcome::Skipped);
    let mut conn = db.connect().await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM job_runs").await,
        0
    );
    // Its turn over, the next round runs and is recorded.
    AnsiTransactionManager::commit_transaction(&mut other)
        .await
        .unwrap();
    let ran = run_once(&db.url, Job::RefreshSkillDemand, &settings)
        .await
        .unwrap();
    assert!(matches!(ran, Outcome::Ran { .. }), "{ran:?}");
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM job_runs WHERE job_name = 'refresh_skill_demand' \
             AND last_success_at IS NOT NULL AND last_error IS NULL"
        )
        .await,
        1
    );
    // Two at once: both finish, neither fails (one may skip).
    let (a, b) = tokio::join!(
        run_once(&db.url, Job::RefreshLeaderboards, &settings),
        run_once(&db.url, Job::RefreshLeaderboards, &settings)
    );
    assert!(a.is_ok() && b.is_ok());
    assert!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .any(|o| matches!(o, Outcome::Ran { .. }))
    );
}

#[tokio::test]
async fn retention_drops_old_months_and_rows_and_keeps_fresh_ones() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (org, user) = (Uuid::new_v4(), Uuid::new_v4());
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name) VALUES ('{org}', 'Old');
         INSERT INTO users (id, organization_id, email, full_name) VALUES ('{user}', '{org}', 'old@example.com', 'Old');
         INSERT INTO learning_events (organization_id, event_id, user_id, kind, occurred_at, local_date, is_learning_activity)
           VALUES ('{org}', 'ancient', '{user}', 'login', now() - interval '200 days', (now() - interval '200 days')::date, false),
                  ('{org}', 'boundary', '{user}', 'login', now() - interval '91 days', (now() - interval '91 days')::date, false),
                  ('{org}', 'recent', '{user}', 'login', now() - interval '1 day', (now() - interval '1 day')::date, false);
         INSERT INTO analytics_cache (organization_id, kind, audience, subject_type, subject_id, user_id, result, computed_at, expires_at) VALUES
           ('{org}', 'engagement_score', 'learner', 'user', '{user}', '{user}', '{{}}', now() - interval '5 hours', now() - interval '1 hour'),
           ('{org}', 'mastery_progress', 'learner', 'user', '{user}', '{user}', '{{}}', now() - interval '8 days', now() + interval '1 hour'),
           ('{org}', 'drop_off_risk', 'predictive', 'user', '{user}', '{user}', '{{}}', now() - interval '49 hours', now() + interval '1 hour'),
           ('{org}', 'learning_velocity', 'learner', 'user', '{user}', '{user}', '{{}}', now() - interval '1 hour', now() + interval '3 hours');"
    ))
    .await
    .unwrap();
    let old_partition = count(
        &mut conn,
        "SELECT count(*) AS n FROM pg_class WHERE relname = 'learning_events_y' || \
         to_char(now() - interval '200 days', 'YYYY') || 'm' || to_char(now() - interval '200 days', 'MM')",
    )
    .await;
    assert_eq!(
        old_partition, 1,
        "the month of 200 days ago has a partition"
    );

    let outcome = run_once(&db.url, Job::Retention, &job_runner(JobSettings::default()))
        .await
        .unwrap();
    let Outcome::Ran { detail, .. } = outcome else {
        panic!("retention ran: {outcome:?}")
    };
    assert!(
        detail.contains("learning_events_y"),
        "partitions named: {detail}"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_class WHERE relname = 'learning_events_y' || \
             to_char(now() - interval '200 days', 'YYYY') || 'm' || to_char(now() - interval '200 days', 'MM')"
        )
        .await,
        0,
        "the whole old month is dropped"
    );
    let events: Vec<String> = {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            event_id: String,
        }
        diesel::sql_query("SELECT event_id FROM learning_events ORDER BY event_id")
            .load::<Id>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.event_id)
            .collect()
    };
    assert_eq!(events, ["recent"], "91 days old goes too, by row");
    let kinds = count(
        &mut conn,
        "SELECT count(*) AS n FROM analytics_cache WHERE kind = 'learning_velocity'",
    )
    .await;
    assert_eq!(kinds, 1);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM analytics_cache").await,
        1
    );
}

#[tokio::test]
async fn refresh_and_upkeep_fill_views_and_create_months_ahead() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let (org, user, skill) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name) VALUES ('{org}', 'Skills');
         INSERT INTO users (id, organization_id, email, full_name) VALUES ('{user}', '{org}', 's@example.com', 'S');
         INSERT INTO skills (id, organization_id, name, domain) VALUES ('{skill}', '{org}', 'SQL', 'data');
         INSERT INTO user_skills (user_id, skill_id, organization_id, mastery_level, acquired_at, last_assessed_at)
           VALUES ('{user}', '{skill}', '{org}', 85, now(), now());"
    ))
    .await
    .unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM skill_demand_aggregates"
        )
        .await,
        0
    );
    let settings = job_runner(JobSettings {
        partitions_ahead_months: 6,
        ..JobSettings::default()
    });
    run_once(&db.url, Job::RefreshSkillDemand, &settings)
        .await
        .unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM skill_demand_aggregates WHERE mastered_count = 1"
        )
        .await,
        1
    );
    let ahead = "SELECT count(*) AS n FROM pg_class WHERE relname = 'learning_events_y' || \
                 to_char(now() + interval '6 months', 'YYYY') || 'm' || to_char(now() + interval '6 months', 'MM')";
    assert_eq!(
        count(&mut conn, ahead).await,
        0,
        "migrations prepared 3 months"
    );
    let Outcome::Ran { rows, .. } = run_once(&db.url, Job::Partitions, &settings).await.unwrap()
    else {
        panic!("upkeep ran")
    };
    assert!(
        rows >= 4,
        "months created for each partitioned table: {rows}"
    );
    assert_eq!(count(&mut conn, ahead).await, 1);
    // Idempotent: nothing more to create.
    let Outcome::Ran { rows, .. } = run_once(&db.url, Job::Partitions, &settings).await.unwrap()
    else {
        panic!("upkeep ran")
    };
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_database_and_run_each_job_once_per_round() {
    use stride::auth::Role;
    use stride::proto::identity::v1 as id;
    use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;

    use crate::harness::{TestServer, authed};

    let a = TestServer::start().await;
    let b = a.serve_again(Default::default()).await;
    // A write through one replica is read through the other.
    let (user, org) = a.person(None, &[Role::Learner]).await;
    let token = a.user_token(user, org, Role::Learner);
    IdentityServiceClient::new(a.channel())
        .update_preferences(authed(
            id::UpdatePreferencesRequest {
                user_id: String::new(),
                preferences: Some(id::Preferences {
                    forecasting_opt_out: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["forecasting_opt_out".into()],
                }),
            },
            &token,
        ))
        .await
        .expect("write on A");
    let read = IdentityServiceClient::new(b.channel())
        .get_preferences(authed(id::GetPreferencesRequest::default(), &token))
        .await
        .expect("read on B")
        .into_inner();
    assert!(read.preferences.unwrap().forecasting_opt_out);

    // Ten rounds of both replicas starting the job at once: runs never
    // overlap (the lock), each round runs at least once, nothing fails.
    let settings = job_runner(JobSettings {
        leaderboard_refresh_s: 1,
        ..JobSettings::default()
    });
    let mut runs = Vec::new();
    for _ in 0..10 {
        let (x, y) = tokio::join!(
            run_once(&a.db_url, Job::RefreshLeaderboards, &settings),
            run_once(&b.db_url, Job::RefreshLeaderboards, &settings)
        );
        runs.push(x.expect("replica A"));
        runs.push(y.expect("replica B"));
    }
    let ran = runs
        .iter()
        .filter(|o| matches!(o, Outcome::Ran { .. }))
        .count();
    let skipped = runs.iter().filter(|o| **o == Outcome::Skipped).count();
    assert_eq!(ran + skipped, 20);
    assert!(ran >= 10, "every round ran at least once: {ran}");
    let mut conn = AsyncPgConnection::establish(&a.db_url).await.unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM job_runs WHERE job_name = 'refresh_leaderboards' AND last_error IS NULL"
        )
        .await,
        1
    );
}
