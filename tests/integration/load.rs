//! Overload: far more streams and calls at once than the limits allow,
//! against `stride serve` as a process of its own (so that its memory is
//! its own). What is over the limits is shed with RESOURCE_EXHAUSTED at
//! once; what is admitted is applied exactly once; the process stays
//! within the memory bound and healthy.

use std::sync::Arc;
use std::time::Duration;

use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tokio::sync::{Barrier, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::{TestDb, authed};
use crate::ingest_support::{Fixture, count, random_events};
use crate::process::ServeProcess;

/// The server's memory bound (docs/benchmarks.md): 200 MB.
const MEMORY_BOUND: u64 = 200 * 1024 * 1024;

/// Connections the clients spread over (each carries many calls).
const CONNECTIONS: usize = 16;

async fn channels(server: &ServeProcess) -> Vec<Channel> {
    let mut all = Vec::new();
    for _ in 0..CONNECTIONS {
        all.push(server.connect().await);
    }
    all
}

/// After the storm: SERVING, a new call applies, memory within the bound.
async fn assert_healthy_after(server: &ServeProcess, token: &str, event: pb::Event) {
    let health = HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    let reply = EventServiceClient::new(server.channel.clone())
        .publish_event(authed(
            pb::PublishEventRequest { event: Some(event) },
            token,
        ))
        .await
        .expect("a call after the storm")
        .into_inner();
    assert_eq!(
        reply.result.unwrap().status,
        pb::EventStatus::Accepted as i32
    );
    let peak = server.peak_rss();
    eprintln!("peak RSS of stride serve: {} MiB", peak / (1024 * 1024));
    assert!(peak < MEMORY_BOUND, "peak RSS {peak} bytes");
}

/// What a spawned call ended with; every call must end within two minutes.
async fn answered<T>(task: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), task)
        .await
        .expect("every call answered in time")
        .expect("call task")
}

async fn start(seed: u128) -> (TestDb, ServeProcess, Fixture, String) {
    let db = TestDb::migrated().await;
    let fx = Fixture::new(seed);
    fx.create(&db.url).await;
    let server = ServeProcess::start(&db.url, &db.app_url, &[]).await;
    let token = crate::faults::producer_token(&fx);
    (db, server, fx, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_streams_at_once_are_admitted_up_to_the_cap_and_the_rest_shed() {
    const STREAMS: usize = 1_000;
    let (db, server, fx, token) = start(50).await;
    let channels = channels(&server).await;
    let events = random_events(&fx, STREAMS + 1, 50, "many");
    // Admitted streams stay open until every stream has been tried, so
    // that all of them compete for the cap at once.
    let all_tried = Arc::new(Barrier::new(STREAMS));
    let tasks: Vec<_> = events[..STREAMS]
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, event)| {
            let channel = channels[n % CONNECTIONS].clone();
            let token = token.clone();
            let all_tried = all_tried.clone();
            tokio::spawn(async move {
                let (tx, rx) = mpsc::channel(1);
                tx.send(pb::PublishEventsRequest { event: Some(event) })
                    .await
                    .unwrap();
                let opened = EventServiceClient::new(channel)
                    .publish_events(authed(ReceiverStream::new(rx), &token))
                    .await;
                let outcome = match opened {
                    Ok(responses) => {
                        let mut responses = responses.into_inner();
                        let first = responses.next().await.expect("a result");
                        Ok(first.expect("admitted stream answers").result.unwrap())
                    }
                    Err(status) => Err(status),
                };
                all_tried.wait().await;
                drop(tx);
                outcome
            })
        })
        .collect();
    let mut accepted = 0;
    let mut shed = 0;
    for task in tasks {
        match answered(task).await {
            Ok(result) => {
                assert_eq!(result.status, pb::EventStatus::Accepted as i32);
                accepted += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("retry"), "{status:?}");
                shed += 1;
            }
        }
    }
    eprintln!("{accepted} streams admitted, {shed} shed");
    assert!(accepted >= 1, "some streams are admitted");
    // One producer: its share (STRIDE_MAX_EVENT_STREAMS_PER_CALLER, 256)
    // binds before the server's 1,024.
    assert!(
        accepted <= 256,
        "at most one caller's share of streams at once"
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) AS n FROM event_receipts").await,
        accepted,
        "exactly the admitted streams' events are stored"
    );
    assert_healthy_after(&server, &token, events[STREAMS].clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unary_calls_at_once_are_applied_or_shed_and_nothing_else() {
    const CALLS: usize = 10_000;
    let (db, server, fx, token) = start(51).await;
    let channels = channels(&server).await;
    let events = random_events(&fx, CALLS + 1, 51, "storm");
    let tasks: Vec<_> = events[..CALLS]
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, event)| {
            let mut client = EventServiceClient::new(channels[n % CONNECTIONS].clone());
            let token = token.clone();
            tokio::spawn(async move {
                let request = pb::PublishEventRequest { event: Some(event) };
                client.publish_event(authed(request, &token)).await
            })
        })
        .collect();
    let mut accepted = 0;
    let mut shed = 0;
    for task in tasks {
        match answered(task).await {
            Ok(reply) => {
                let result = reply.into_inner().result.unwrap();
                assert_eq!(result.status, pb::EventStatus::Accepted as i32);
                accepted += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    status.message().contains("STRIDE_MAX_CONCURRENT_REQUESTS"),
                    "names the limit: {status:?}"
                );
                shed += 1;
            }
        }
    }
    eprintln!("{accepted} calls applied, {shed} shed");
    assert!(shed > 0, "10,000 calls at once exceed the 256 admitted");
    assert!(accepted > 0, "calls are admitted while others are shed");
    assert_eq!(
        count(&db.url, "SELECT count(*) AS n FROM event_receipts").await,
        accepted,
        "exactly the applied calls' events are stored"
    );
    assert_healthy_after(&server, &token, events[CALLS].clone()).await;
}
