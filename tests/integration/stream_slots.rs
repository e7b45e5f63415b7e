//! PublishEvents slots over the wire: one caller's share, idle streams
//! closed with what they sent kept, the retry hint, and deadlines the
//! client set (issue 28).

use std::time::{Duration, Instant};

use stride::auth::Scope;
use stride::config::Limits;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{TestServer, authed};
use crate::ingest_support::{Fixture, count, graded_now, timestamp};

fn client(server: &TestServer) -> EventServiceClient<Channel> {
    EventServiceClient::new(server.channel())
}

/// The same event for the same id (resent, it is a duplicate).
fn event(fx: &Fixture, id: &str) -> pb::Event {
    let mut event = graded_now(id, fx.users[0], fx.courses[0], 90.0);
    let today = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 1)
        .unwrap();
    event.occurred_at = timestamp(today.and_utc());
    event
}

/// An open stream that has had `first` acknowledged; `tx` keeps it open.
struct Open {
    tx: mpsc::Sender<pb::PublishEventsRequest>,
    results: tonic::Streaming<pb::PublishEventsResponse>,
}

async fn open(server: &TestServer, token: &str, first: pb::Event) -> Result<Open, tonic::Status> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(pb::PublishEventsRequest { event: Some(first) })
        .await
        .unwrap();
    let mut results = client(server)
        .publish_events(authed(ReceiverStream::new(rx), token))
        .await?
        .into_inner();
    let ack = results.next().await.expect("a result")?;
    assert_eq!(ack.result.unwrap().status, pb::EventStatus::Accepted as i32);
    Ok(Open { tx, results })
}

#[tokio::test]
async fn one_caller_cannot_take_every_stream_slot() {
    let server = TestServer::start_with(Limits {
        max_event_streams: 4,
        max_event_streams_per_caller: 2,
        ..Limits::default()
    })
    .await;
    let fx = Fixture::new(281);
    fx.create(&server.db_url).await;
    let lms = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    let quiz = server.org_service_token("quiz", fx.org, &[Scope::EventsWrite]);

    let held = [
        open(&server, &lms, event(&fx, "a1")).await.expect("first"),
        open(&server, &lms, event(&fx, "a2")).await.expect("second"),
    ];
    let refused = open(&server, &lms, event(&fx, "a3"))
        .await
        .err()
        .expect("a third stream of the same caller is over its share");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("STRIDE_MAX_EVENT_STREAMS_PER_CALLER"),
        "{refused:?}"
    );
    assert_eq!(
        refused.metadata().get("grpc-retry-pushback-ms").unwrap(),
        "1000",
        "gRPC's retry hint"
    );
    // Another service of the same organization still gets in.
    let other = open(&server, &quiz, event(&fx, "b1")).await;
    assert!(other.is_ok(), "{:?}", other.err());
    // The refused stream's event was not stored.
    assert_eq!(
        count(
            &server.db_url,
            "SELECT count(*) AS n FROM event_receipts WHERE event_id = 'a3'"
        )
        .await,
        0
    );
    drop(held);
}

#[tokio::test]
async fn an_idle_stream_is_closed_with_what_it_sent_kept_and_its_slot_freed() {
    let server = TestServer::start_with(Limits {
        max_event_streams: 1,
        event_stream_idle_s: 1,
        ..Limits::default()
    })
    .await;
    let fx = Fixture::new(282);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);

    let started = Instant::now();
    let mut idle = open(&server, &token, event(&fx, "idle-1"))
        .await
        .expect("admitted");
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.results.next())
        .await
        .expect("closed within the idle time")
        .expect("a final status")
        .expect_err("an idle stream ends with a status");
    assert_eq!(closed.code(), Code::Unavailable, "{closed:?}");
    assert!(
        closed.message().contains("STRIDE_EVENT_STREAM_IDLE_S"),
        "{closed:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    drop(idle.tx);

    // The slot is free again, and the acknowledged event was kept.
    let mut again = open(&server, &token, event(&fx, "idle-2"))
        .await
        .expect("the only slot is free once the idle stream closed");
    again
        .tx
        .send(pb::PublishEventsRequest {
            event: Some(event(&fx, "idle-1")),
        })
        .await
        .unwrap();
    let resent = again.results.next().await.unwrap().unwrap().result.unwrap();
    assert_eq!(resent.status, pb::EventStatus::Duplicate as i32);
}

#[tokio::test]
async fn a_deadline_spent_on_arrival_is_deadline_exceeded_and_changes_nothing() {
    let server = TestServer::start().await;
    let fx = Fixture::new(283);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);

    let publish = |timeout: Option<Duration>| {
        let mut request = authed(
            pb::PublishEventRequest {
                event: Some(event(&fx, "late-1")),
            },
            &token,
        );
        if let Some(timeout) = timeout {
            request.set_timeout(timeout); // sent as grpc-timeout
        }
        let mut api = client(&server);
        async move { api.publish_event(request).await }
    };
    let late = publish(Some(Duration::from_micros(1)))
        .await
        .expect_err("no time left");
    // The server answers DEADLINE_EXCEEDED at once (src/deadline.rs unit
    // tests); tonic's client may give up first on its own 1 µs timer,
    // which it reports as CANCELLED "Timeout expired".
    let client_gave_up = late.code() == Code::Cancelled && late.message() == "Timeout expired";
    assert!(
        late.code() == Code::DeadlineExceeded || client_gave_up,
        "{late:?}"
    );
    let then = publish(None).await.expect("sent again").into_inner();
    assert_eq!(
        then.result.unwrap().status,
        pb::EventStatus::Accepted as i32,
        "nothing was applied by the call that had no time left"
    );
}
