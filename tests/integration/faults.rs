//! Faults while loaded, on 127.0.0.1 only: PostgreSQL stopped or crashed
//! mid-stream, the server's backends terminated, the server SIGKILLed
//! mid-stream, PostgreSQL paused past the call deadline. Producers retry as
//! the README asks (resend from the first unacknowledged event). After each
//! fault: every event is stored exactly once, nothing is half-applied (the
//! derived state equals one clean delivery's), and a recompute from the
//! stored events finds nothing to change.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::Scope;
use stride::config::Limits;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::harness::{PrivateCluster, TestDb, TestServer, authed};
use crate::ingest_support::{Fixture, count, derived_state, random_events, recompute_differences};
use crate::process::ServeProcess;

const EVENTS: usize = 400;
/// A fault strikes after every this many acknowledgements (three times).
const FAULT_EVERY: usize = 100;

/// Where the producer connects; a fault may move it (a restarted server).
type Target = Arc<Mutex<Channel>>;

fn target(channel: Channel) -> Target {
    Arc::new(Mutex::new(channel))
}

fn client(target: &Target) -> EventServiceClient<Channel> {
    EventServiceClient::new(target.lock().unwrap().clone())
}

/// An upstream service allowed to publish for `fx`'s organization.
pub(crate) fn producer_token(fx: &Fixture) -> String {
    crate::harness::org_service_token("lms", fx.org, &[Scope::EventsWrite])
}

/// Events a producer sends ahead of their acknowledgements.
const WINDOW: usize = 32;

/// A careful producer on PublishEvents: keeps [`WINDOW`] events in flight;
/// when the stream fails, it opens a new one from its first unacknowledged
/// event, with backoff. `fault` runs after every [`FAULT_EVERY`]
/// acknowledgements, with events in flight (some may be applied without
/// their acknowledgement having arrived). Every acknowledgement must be
/// Accepted or Duplicate; the failures seen.
async fn deliver_through(
    target: &Target,
    token: &str,
    events: &[pb::Event],
    mut fault: impl AsyncFnMut(),
) -> Vec<Status> {
    let mut acked = 0;
    let mut failures = Vec::new();
    for _attempt in 0..100 {
        if acked == events.len() {
            break;
        }
        let (tx, rx) = mpsc::channel(WINDOW);
        let rest = events[acked..].to_vec();
        let sender = tokio::spawn(async move {
            for event in rest {
                let request = pb::PublishEventsRequest { event: Some(event) };
                if tx.send(request).await.is_err() {
                    break;
                }
            }
        });
        let responses = client(target)
            .publish_events(authed(ReceiverStream::new(rx), token))
            .await;
        match responses {
            Ok(responses) => {
                let mut responses = responses.into_inner();
                loop {
                    match responses.next().await {
                        Some(Ok(reply)) => {
                            assert_acknowledged(reply.result);
                            acked += 1;
                            if acked % FAULT_EVERY == 0 && acked < events.len() {
                                fault().await;
                            }
                        }
                        Some(Err(status)) => {
                            failures.push(status);
                            break;
                        }
                        None if acked == events.len() => break,
                        None => {
                            failures.push(Status::unknown("the stream ended early"));
                            break;
                        }
                    }
                }
            }
            Err(status) => failures.push(status),
        }
        sender.abort();
        if acked < events.len() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(
        acked,
        events.len(),
        "every event acknowledged; failures: {failures:?}"
    );
    failures
}

/// A retried event is stored (Accepted) or was already (Duplicate); never
/// a conflict with itself.
fn assert_acknowledged(result: Option<pb::EventResult>) {
    let result = result.expect("a result");
    let status = pb::EventStatus::try_from(result.status).unwrap();
    assert!(
        matches!(
            status,
            pb::EventStatus::Accepted | pb::EventStatus::Duplicate
        ),
        "{} answered {status:?}: {:?}",
        result.event_id,
        result.violations
    );
}

/// Failures come from the database being away, say so, and show none of
/// its details.
fn assert_unavailable(failures: &[Status]) {
    assert!(!failures.is_empty(), "the fault failed the stream");
    for status in failures {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        for detail in ["127.0.0.1", "stride_app", "password", "SQL", "diesel"] {
            assert!(
                !status.message().contains(detail),
                "{detail} leaked: {status:?}"
            );
        }
    }
}

/// Every event stored exactly once; the state equals a clean delivery of
/// the same events; a recompute from what is stored changes nothing.
async fn assert_exactly_once_and_consistent(owner_url: &str, fx: &Fixture, events: &[pb::Event]) {
    for table in ["learning_events", "event_receipts"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(count(owner_url, &sql).await, EVENTS as i64, "{table}");
        let sql = format!("SELECT count(DISTINCT event_id) AS n FROM {table}");
        assert_eq!(count(owner_url, &sql).await, EVENTS as i64, "{table}");
    }

    let reference = TestServer::start().await;
    fx.create(&reference.db_url).await;
    let clean = deliver_through(
        &target(reference.channel()),
        &producer_token(fx),
        events,
        async || {},
    )
    .await;
    assert!(clean.is_empty(), "{clean:?}");
    assert_eq!(
        derived_state(owner_url).await,
        derived_state(&reference.db_url).await,
        "the state after the fault equals one clean delivery's"
    );

    let mut conn = AsyncPgConnection::establish(owner_url).await.unwrap();
    let differences = recompute_differences(&mut conn, &fx.users).await;
    assert!(differences.is_empty(), "recompute differs: {differences:?}");
}

/// A server with small stream batches on a cluster of the test's own.
async fn server_on_private_cluster(name: &str, limits: Limits) -> (PrivateCluster, TestServer) {
    let cluster = PrivateCluster::start(name).await;
    let server = TestServer::serve(&cluster.url, &cluster.app_url, limits).await;
    (cluster, server)
}

fn small_batches() -> Limits {
    Limits {
        ingest_batch_size: 20,
        ..Limits::default()
    }
}

/// Takes PostgreSQL down with `stop` and brings it back `after` later,
/// while the producer goes on (a restart between two batches would go
/// unnoticed: the pool replaces its broken connections).
async fn down_for(
    cluster: &Arc<tokio::sync::Mutex<PrivateCluster>>,
    stop: fn(&mut PrivateCluster),
    after: Duration,
) {
    stop(&mut *cluster.lock().await);
    let cluster = cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        cluster.lock().await.restart().await;
    });
}

async fn postgres_down_mid_stream(name: &str, seed: u64, stop: fn(&mut PrivateCluster)) {
    let (cluster, server) = server_on_private_cluster(name, small_batches()).await;
    let url = cluster.url.clone();
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let fx = Fixture::new(seed.into());
    fx.create(&url).await;
    let events = random_events(&fx, EVENTS, seed, name);
    let failures = deliver_through(
        &target(server.channel()),
        &producer_token(&fx),
        &events,
        async || down_for(&cluster, stop, Duration::from_secs(1)).await,
    )
    .await;
    assert_unavailable(&failures);
    assert_exactly_once_and_consistent(&url, &fx, &events).await;
}

// Multi-thread: stopping and starting PostgreSQL block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_stream_gives_unavailable_and_a_retry_converges() {
    postgres_down_mid_stream("stop", 40, PrivateCluster::stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_mid_stream_gives_unavailable_and_a_retry_converges() {
    postgres_down_mid_stream("crash", 41, PrivateCluster::crash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_mid_stream_give_unavailable_and_a_retry_converges() {
    let server = TestServer::start_with(small_batches()).await;
    let fx = Fixture::new(42);
    fx.create(&server.db_url).await;
    let events = random_events(&fx, EVENTS, 42, "term");
    let owner_url = server.db_url.clone();
    let failures = deliver_through(
        &target(server.channel()),
        &producer_token(&fx),
        &events,
        async || {
            let mut owner = AsyncPgConnection::establish(&owner_url).await.unwrap();
            let sql = "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                       WHERE datname = current_database() AND usename = 'stride_app'";
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let killed: Vec<N> = diesel::sql_query(sql).load(&mut owner).await.unwrap();
            assert!(killed[0].n > 0, "the server had backends to terminate");
        },
    )
    .await;
    assert_unavailable(&failures);
    assert_exactly_once_and_consistent(&server.db_url, &fx, &events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_mid_stream_and_restarted_loses_nothing_and_applies_nothing_twice() {
    let db = TestDb::migrated().await;
    let fx = Fixture::new(43);
    fx.create(&db.url).await;
    let events = random_events(&fx, EVENTS, 43, "kill");
    let env = [("STRIDE_INGEST_BATCH_SIZE", "20")];
    let mut server = ServeProcess::start(&db.url, &db.app_url, &env).await;
    let to = target(server.channel.clone());
    let failures = deliver_through(&to, &producer_token(&fx), &events, async || {
        server.kill();
        server = ServeProcess::start(&db.url, &db.app_url, &env).await;
        *to.lock().unwrap() = server.channel.clone();
    })
    .await;
    // The client sees the connection drop (UNAVAILABLE or UNKNOWN, from
    // its own transport): the server had no chance to answer.
    assert!(!failures.is_empty(), "the kill failed the stream");
    for status in &failures {
        assert!(
            matches!(status.code(), Code::Unavailable | Code::Unknown),
            "{status:?}"
        );
    }
    assert_exactly_once_and_consistent(&db.url, &fx, &events).await;
}

/// Unary producers, each retrying its event until it is acknowledged; the
/// failures seen, with how long each failed call took.
async fn publish_each_until_acknowledged(
    channel: Channel,
    token: String,
    events: Vec<pb::Event>,
) -> Vec<(Status, Duration)> {
    let mut failures = Vec::new();
    let mut client = EventServiceClient::new(channel);
    for event in events {
        for attempt in 0.. {
            assert!(attempt < 100, "event {} never acknowledged", event.event_id);
            let started = Instant::now();
            let request = pb::PublishEventRequest {
                event: Some(event.clone()),
            };
            match client.publish_event(authed(request, &token)).await {
                Ok(reply) => {
                    assert_acknowledged(reply.into_inner().result);
                    break;
                }
                Err(status) => {
                    failures.push((status, started.elapsed()));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_paused_past_the_deadline_gives_deadline_exceeded_in_time_and_a_retry_converges() {
    const DEADLINE_MS: u64 = 800;
    const PAUSE: Duration = Duration::from_millis(2_500);
    let limits = Limits {
        request_timeout_ms: DEADLINE_MS,
        ..Limits::default()
    };
    let (cluster, server) = server_on_private_cluster("pause", limits).await;
    let fx = Fixture::new(44);
    fx.create(&cluster.url).await;
    let events = random_events(&fx, EVENTS, 44, "pause");
    let token = producer_token(&fx);

    // Four producers; the cluster freezes while they run.
    let producers: Vec<_> = events
        .chunks(EVENTS / 4)
        .map(|chunk| {
            tokio::spawn(publish_each_until_acknowledged(
                server.channel(),
                token.clone(),
                chunk.to_vec(),
            ))
        })
        .collect();
    let applied = async || count(&cluster.url, "SELECT count(*) AS n FROM event_receipts").await;
    while applied().await < FAULT_EVERY as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.pause();
    tokio::time::sleep(PAUSE).await;
    cluster.resume();

    let mut failures = Vec::new();
    for producer in producers {
        failures.extend(producer.await.expect("producer"));
    }
    assert!(!failures.is_empty(), "the pause failed calls");
    for (status, took) in &failures {
        assert!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
            "{status:?}"
        );
        // Answered at the deadline, not when the database came back.
        assert!(
            *took < Duration::from_millis(DEADLINE_MS + 1_000),
            "{status:?} after {took:?}"
        );
    }
    assert!(
        failures
            .iter()
            .any(|(s, _)| s.code() == Code::DeadlineExceeded),
        "{failures:?}"
    );
    assert_exactly_once_and_consistent(&cluster.url, &fx, &events).await;
}

/// A backend lost mid-query on an RPC outside ingestion (the read of a
/// profile, on a table locked so that the query waits, then the backend
/// terminated as an operator or a failover would) answers UNAVAILABLE with
/// no server detail, not INTERNAL; the next call works on a fresh
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_lost_mid_query_is_unavailable_and_the_next_call_works() {
    use stride::auth::Role;
    use stride::proto::gamification::v1::GetProfileRequest;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

    let server = TestServer::start().await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    let profile = || {
        let (mut client, request) = (
            GamificationServiceClient::new(server.channel()),
            authed(GetProfileRequest::default(), &token),
        );
        async move { client.get_profile(request).await.map(drop) }
    };
    profile().await.expect("a profile before the fault");

    let mut locker = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut locker,
        "BEGIN; LOCK TABLE user_points IN ACCESS EXCLUSIVE MODE",
    )
    .await
    .unwrap();
    let call = tokio::spawn(profile());
    // The profile's query waits for the lock; terminate the backend running it.
    let waiting = "SELECT count(*) AS n FROM pg_locks \
                   WHERE NOT granted AND relation = 'user_points'::regclass \
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    assert!(
        crate::harness::eventually(Duration::from_secs(10), async || count(
            &server.db_url,
            waiting
        )
        .await
            == 1)
        .await,
        "the profile's query waits for the lock"
    );
    let terminated = count(
        &server.db_url,
        "SELECT count(pg_terminate_backend(l.pid)) AS n FROM pg_locks l \
         WHERE NOT l.granted AND l.relation = 'user_points'::regclass \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(terminated, 1);
    let status = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call ends once its backend is gone")
        .unwrap()
        .expect_err("a call whose backend was terminated");
    diesel_async::SimpleAsyncConnection::batch_execute(&mut locker, "COMMIT")
        .await
        .unwrap();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        !status.message().contains("terminating") && !status.message().contains("administrator"),
        "the server's message leaked: {status:?}"
    );
    profile()
        .await
        .expect("the next call, on a live connection");
}
