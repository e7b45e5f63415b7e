//! Backups and point-in-time recovery, the procedure of docs/operations.md
//! run for real: WAL archiving with archive_command, a base backup with
//! pg_basebackup, events before and after a moment, then a new cluster
//! restored from the backup and the archive to that moment. It holds
//! exactly the events committed before it, and a Stride on it answers as
//! the original did then.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::Role;
use stride::config::Limits;
use stride::proto::events::v1 as ev;
use stride::proto::gamification::v1 as pb;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

use crate::harness::{PrivateCluster, TestServer, authed, eventually, test_dir};
use crate::ingest_support::{Fixture, count, graded_now, publish_stream, stored_points};
use crate::private_cluster::give_to_postgres;

async fn text(url: &str, sql: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        t: String,
    }
    let mut conn = AsyncPgConnection::establish(url).await.expect("connect");
    let row: Row = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .expect(sql);
    row.t
}

async fn publish_accepted(server: &TestServer, fx: &Fixture, prefix: &str) {
    let list = (0..5)
        .map(|i| graded_now(&format!("{prefix}-{i}"), fx.users[0], fx.courses[0], 80.0))
        .collect();
    let results = publish_stream(server, fx.org, list).await;
    assert!(
        results
            .iter()
            .all(|r| r.status == ev::EventStatus::Accepted as i32),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_backup_and_the_wal_archive_restore_exactly_the_events_before_a_point_in_time() {
    let archive = test_dir(std::process::id()).join("pitr-archive");
    std::fs::create_dir_all(&archive).unwrap();
    give_to_postgres(&archive);
    let a = archive.display();
    let archive_command = format!("test ! -f {a}/%f && cp %p {a}/%f");
    let mut primary = PrivateCluster::start_with(
        "pitr-primary",
        &[
            ("archive_mode", "on"),
            ("archive_command", &archive_command),
        ],
    )
    .await;
    let fx = Fixture::new(98);
    fx.create(&primary.url).await;
    let server = TestServer::serve(&primary.url, &primary.app_url, Limits::default()).await;

    // The nightly base backup, then a day's events on either side of the
    // moment to restore to.
    let base = test_dir(std::process::id()).join("pitr-base/pgdata");
    primary.base_backup(&base, &[]);
    publish_accepted(&server, &fx, "before").await;
    let points_then = stored_points(&primary.url, fx.users[0]).await;
    assert!(points_then > 0);
    let target = text(&primary.url, "SELECT clock_timestamp()::text AS t").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    publish_accepted(&server, &fx, "after").await;

    // Close the current WAL segment and wait until it is archived.
    let segment = text(&primary.url, "SELECT pg_walfile_name(pg_switch_wal()) AS t").await;
    assert!(
        eventually(Duration::from_secs(30), async || {
            text(
                &primary.url,
                "SELECT coalesce(last_archived_wal, '') AS t FROM pg_stat_archiver",
            )
            .await
                >= segment
        })
        .await,
        "segment {segment} archived"
    );
    drop(server);
    primary.stop();

    let restore_command = format!("cp {a}/%f %p");
    let restored = primary
        .restore(
            "pitr-restored",
            &base,
            &[
                ("restore_command", &restore_command),
                ("recovery_target_time", &target),
                ("recovery_target_action", "promote"),
            ],
        )
        .await;
    assert!(
        eventually(Duration::from_secs(60), async || count(
            &restored.url,
            "SELECT count(*) AS n WHERE NOT pg_is_in_recovery()"
        )
        .await
            == 1)
        .await,
        "recovery reached the target and promoted"
    );

    let events = |prefix: &str| {
        format!("SELECT count(*) AS n FROM learning_events WHERE event_id LIKE '{prefix}-%'")
    };
    assert_eq!(count(&restored.url, &events("before")).await, 5);
    assert_eq!(count(&restored.url, &events("after")).await, 0);
    assert_eq!(
        count(
            &restored.url,
            "SELECT count(*) AS n FROM event_receipts WHERE event_id LIKE 'after-%'"
        )
        .await,
        0,
        "no receipt of a later event survives, so its retry is applied, not refused"
    );

    // A Stride on the restored database answers as the original did then.
    let server = TestServer::serve(&restored.url, &restored.app_url, Limits::default()).await;
    let token = server.user_token(fx.users[0], fx.org, Role::Learner);
    let profile = GamificationServiceClient::new(server.channel())
        .get_profile(authed(pb::GetProfileRequest::default(), &token))
        .await
        .expect("profile on the restored database")
        .into_inner();
    assert_eq!(profile.total_points, points_then as u64);
}
