//! Read-only RPCs on a streaming replica (`DATABASE_READ_URL`), on a real
//! primary + hot standby pair made with pg_basebackup: answers come from
//! the replica while it keeps up, from the primary while it lags further
//! than allowed or is down, and writes always go to the primary.

use std::time::Duration;

use stride::auth::Role;
use stride::proto::events::v1 as ev;
use stride::proto::gamification::v1 as pb;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

use crate::harness::{PrivateCluster, TestServer, authed, eventually};
use crate::health::scrape;
use crate::ingest_support::{Fixture, count, graded_now, publish_stream, stored_points};

/// The learner's points as `server` answers GetProfile.
async fn points(server: &TestServer, fx: &Fixture) -> Option<u64> {
    let token = server.user_token(fx.users[0], fx.org, Role::Learner);
    GamificationServiceClient::new(server.channel())
        .get_profile(authed(pb::GetProfileRequest::default(), &token))
        .await
        .ok()
        .map(|r| r.into_inner().total_points)
}

async fn in_use(server: &TestServer) -> bool {
    scrape(server)
        .await
        .contains("stride_read_replica_in_use 1\n")
}

async fn standby_sql(standby: &PrivateCluster, sql: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let mut conn = AsyncPgConnection::establish(&standby.url)
        .await
        .expect("standby connection");
    conn.batch_execute(sql).await.expect(sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_use_the_replica_while_it_keeps_up_and_the_primary_when_it_lags_or_dies() {
    let primary = PrivateCluster::start("replica-primary").await;
    let mut standby = primary.standby("replica-standby").await;
    let fx = Fixture::new(97);
    fx.create(&primary.url).await;
    // The same pair behind two servers: one allows a minute of lag, one
    // 300 ms.
    let lenient = TestServer::serve_with_replica(
        &primary.url,
        &primary.app_url,
        &standby.app_url,
        Duration::from_secs(60),
    )
    .await;
    let strict = TestServer::serve_with_replica(
        &primary.url,
        &primary.app_url,
        &standby.app_url,
        Duration::from_millis(300),
    )
    .await;
    let course = fx.courses[0];

    // Written through one server (to the primary), read on both once the
    // replica has replayed it.
    let results = publish_stream(
        &lenient,
        fx.org,
        vec![graded_now("r1", fx.users[0], course, 90.0)],
    )
    .await;
    assert_eq!(
        results[0].status,
        ev::EventStatus::Accepted as i32,
        "{results:?}"
    );
    let first = stored_points(&primary.url, fx.users[0]).await as u64;
    assert!(first > 0);
    for server in [&lenient, &strict] {
        assert!(
            eventually(Duration::from_secs(15), async || in_use(server).await
                && points(server, &fx).await == Some(first))
            .await,
            "reads on the replica, and correct, once it has replayed the write"
        );
    }

    // Replay paused: the replica falls behind.
    standby_sql(&standby, "SELECT pg_wal_replay_pause()").await;
    assert!(
        eventually(Duration::from_secs(10), async || {
            count(
                &standby.url,
                "SELECT count(*) AS n WHERE pg_get_wal_replay_pause_state() = 'paused'",
            )
            .await
                == 1
        })
        .await
    );
    let results = publish_stream(
        &strict,
        fx.org,
        vec![graded_now("r2", fx.users[0], course, 100.0)],
    )
    .await;
    assert_eq!(
        results[0].status,
        ev::EventStatus::Accepted as i32,
        "{results:?}"
    );
    let second = stored_points(&primary.url, fx.users[0]).await as u64;
    assert!(second > first, "the write reached the primary");

    // The strict server leaves the replica and answers from the primary...
    assert!(
        eventually(Duration::from_secs(10), async || !in_use(&strict).await
            && points(&strict, &fx).await == Some(second))
        .await,
        "past 300 ms of lag, reads go to the primary"
    );
    // ...while the lenient one still reads the replica: the stale answer
    // proves where its reads run.
    assert!(in_use(&lenient).await);
    assert_eq!(points(&lenient, &fx).await, Some(first));
    assert!(
        scrape(&strict)
            .await
            .contains("stride_read_replica_lag_seconds "),
        "the lag is exported while the replica answers"
    );

    // Replay resumed: both read the replica again, now current.
    standby_sql(&standby, "SELECT pg_wal_replay_resume()").await;
    for server in [&lenient, &strict] {
        assert!(
            eventually(Duration::from_secs(15), async || in_use(server).await
                && points(server, &fx).await == Some(second))
            .await,
            "back on the replica once it caught up"
        );
    }

    // The replica dies: reads move to the primary and keep answering.
    standby.stop();
    assert!(
        eventually(Duration::from_secs(15), async || !in_use(&lenient).await
            && points(&lenient, &fx).await == Some(second))
        .await,
        "an unreachable replica is left for the primary"
    );
    let text = scrape(&lenient).await;
    assert!(!text.contains("stride_read_replica_lag_seconds "), "{text}");
}

#[tokio::test]
async fn read_only_transactions_refuse_writes_with_or_without_a_replica() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use stride::db::tenant::{Begin, DbIdentity, transaction};

    let db = crate::harness::TestDb::migrated().await;
    let mut conn = AsyncPgConnection::establish(&db.app_url).await.unwrap();
    let write = "UPDATE organizations SET name = name";
    let refused = transaction(&mut conn, Begin::reading(&DbIdentity::operator()), |c| {
        Box::pin(async move { diesel::sql_query(write).execute(c).await })
    })
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("read-only transaction"),
        "{refused}"
    );
    // The same connection, then read-write again.
    let done = transaction(&mut conn, Begin::writing(&DbIdentity::operator()), |c| {
        Box::pin(async move { diesel::sql_query(write).execute(c).await })
    })
    .await;
    assert!(done.is_ok(), "{done:?}");
}
