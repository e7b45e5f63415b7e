//! Limits from config, each hit for real: the pool wait, the server's
//! deadline, the message size. Each answers its own gRPC code with a
//! message that says what to do, changes nothing, and leaves the server
//! serving.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::{Role, Scope};
use stride::config::Limits;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::identity::v1::WhoAmIRequest;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::harness::{TestServer, authed, eventually};
use crate::health::{scrape, token_verdicts};
use crate::ingest_support::{Fixture, count, graded_now};

/// A server whose calls have 300 ms, and a learner's token for it.
async fn learner_with_deadline_300ms() -> (TestServer, String) {
    let limits = Limits {
        request_timeout_ms: 300,
        // Every call checks its token in the database (the lock below).
        token_verdict_ms: 0,
        ..Limits::default()
    };
    let server = TestServer::start_with(limits).await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    (server, token)
}

/// Calls WhoAmI with `token`.
async fn who_am_i(server: &TestServer, token: &str) -> Result<(), tonic::Status> {
    IdentityServiceClient::new(server.channel())
        .who_am_i(authed(WhoAmIRequest::default(), token))
        .await
        .map(|_| ())
}

/// Holds an exclusive lock on the table every token check reads, so that
/// calls block inside their first query until the returned connection
/// commits.
async fn block_token_checks(server: &TestServer) -> AsyncPgConnection {
    let mut locker = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE revoked_tokens IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    locker
}

/// Whether, within 10 s, exactly one call waits for the lock of
/// [`block_token_checks`].
async fn one_call_blocked(server: &TestServer) -> bool {
    eventually(Duration::from_secs(10), async || {
        blocked_calls(server).await == 1
    })
    .await
}

/// Calls waiting for the lock of [`block_token_checks`], in this test's
/// database (other tests share the cluster, and cloned databases share
/// table OIDs).
async fn blocked_calls(server: &TestServer) -> i64 {
    let sql = "SELECT count(*) AS n FROM pg_locks \
               WHERE NOT granted AND relation = 'revoked_tokens'::regclass \
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    count(&server.db_url, sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_waits_too_long_for_a_connection_is_resource_exhausted_and_the_pool_recovers() {
    // One connection; a request waits at most 300 ms for it.
    let wait = Duration::from_millis(300);
    let server = TestServer::start_with_pool(1, wait).await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    assert!(who_am_i(&server, &token).await.is_ok());

    // The token check of the first call blocks on a table lock while
    // holding the pool's only connection.
    let mut locker = block_token_checks(&server).await;
    let blocked = tokio::spawn({
        let (channel, token) = (server.channel(), token.clone());
        async move {
            IdentityServiceClient::new(channel)
                .who_am_i(authed(WhoAmIRequest::default(), &token))
                .await
        }
    });
    assert!(
        one_call_blocked(&server).await,
        "the first call holds the connection"
    );

    // The next one waits its 300 ms for a connection, then fails fast.
    let started = tokio::time::Instant::now();
    let refused = who_am_i(&server, &token).await.unwrap_err();
    let took = started.elapsed();
    // Busy, not gone: back off (a database that cannot be reached is
    // UNAVAILABLE, tested in faults.rs).
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("STRIDE_POOL_SIZE"),
        "{refused:?}"
    );
    assert!(refused.message().contains("retry"), "{refused:?}");
    assert!(took >= wait && took < Duration::from_secs(3), "{took:?}");

    // Lock released: the blocked call finishes, and the pool serves again.
    locker.batch_execute("COMMIT").await.unwrap();
    assert!(blocked.await.unwrap().is_ok(), "the blocked call completes");
    assert!(who_am_i(&server, &token).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_server_deadline_gets_deadline_exceeded_and_changes_nothing() {
    let (server, token) = learner_with_deadline_300ms().await;
    // Warm: the first calls open the pool's connections within the deadline.
    assert!(
        eventually(Duration::from_secs(10), async || who_am_i(&server, &token)
            .await
            .is_ok())
        .await
    );

    let mut locker = block_token_checks(&server).await;
    let started = tokio::time::Instant::now();
    let late = who_am_i(&server, &token).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(
        late.message().contains("STRIDE_REQUEST_TIMEOUT_MS"),
        "{late:?}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The abandoned call's query was cancelled with it: nothing waits.
    assert!(
        eventually(Duration::from_secs(10), async || blocked_calls(&server)
            .await
            == 0)
        .await,
        "the timed-out call left no query behind"
    );
    locker.batch_execute("COMMIT").await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || who_am_i(&server, &token)
            .await
            .is_ok())
        .await
    );
    let text = scrape(&server).await;
    assert!(
        text.contains(
            "method=\"/stride.identity.v1.IdentityService/WhoAmI\",code=\"DeadlineExceeded\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_stores_nothing() {
    use stride::auth::Scope;
    use stride::proto::events::v1 as ev;
    use stride::proto::events::v1::event_service_client::EventServiceClient;

    let limits = Limits {
        max_message_bytes: 1024,
        ..Limits::default()
    };
    let server = TestServer::start_with(limits).await;
    let fx = crate::ingest_support::Fixture::new(11);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    let event = |id: String| ev::PublishEventRequest {
        event: Some(ev::Event {
            event_id: id,
            occurred_at: crate::ingest_support::timestamp(chrono::Utc::now()),
            user_id: fx.users[0].to_string(),
            organization_id: String::new(),
            payload: Some(ev::event::Payload::CourseCompleted(ev::CourseCompleted {
                course_id: fx.courses[0].to_string(),
            })),
        }),
    };
    let mut client = EventServiceClient::new(server.channel());
    let refused = client
        .publish_event(authed(event("x".repeat(2_000)), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("1024"), "{refused:?}");
    assert!(
        refused.message().contains("STRIDE_MAX_MESSAGE_BYTES"),
        "{refused:?}"
    );
    let receipts = format!(
        "SELECT count(*) AS n FROM event_receipts WHERE organization_id = '{}'",
        fx.org
    );
    assert_eq!(count(&server.db_url, &receipts).await, 0);
    // A message within the limit on the same connection is served.
    let ok = client
        .publish_event(authed(event("small-1".into()), &token))
        .await
        .expect("within the limit")
        .into_inner();
    assert_eq!(ok.result.unwrap().status, ev::EventStatus::Accepted as i32);
    assert_eq!(count(&server.db_url, &receipts).await, 1);

    // Later in a stream: the events before it are answered, then the
    // stream ends with the same reason (not a silent end).
    use tokio_stream::StreamExt;
    let requests = ["small-2", "small-3"]
        .map(String::from)
        .into_iter()
        .chain(["y".repeat(2_000)])
        .map(|id| ev::PublishEventsRequest {
            event: event(id).event,
        })
        .collect::<Vec<_>>();
    let mut answers = client
        .publish_events(authed(tokio_stream::iter(requests), &token))
        .await
        .expect("stream opens")
        .into_inner();
    let mut accepted = 0;
    let ended = loop {
        match answers.next().await {
            Some(Ok(_)) => accepted += 1,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without saying why"),
        }
    };
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");
    assert!(accepted <= 2, "{accepted}");
    assert_eq!(count(&server.db_url, &receipts).await, 1 + accepted);
}

/// A request whose bytes do not decode as the method's message (here an
/// event id that is not UTF-8) is the caller's error: INVALID_ARGUMENT,
/// nothing stored, and the same connection goes on serving.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_does_not_decode_is_invalid_argument_and_stores_nothing() {
    use stride::auth::Scope;
    use stride::proto::events::v1 as ev;
    use stride::proto::events::v1::event_service_client::EventServiceClient;

    /// `PublishEventRequest` with its event id as raw bytes.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawEvent {
        #[prost(bytes = "vec", tag = "1")]
        event_id: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawPublish {
        #[prost(message, optional, tag = "1")]
        event: Option<RawEvent>,
    }

    let server = TestServer::start().await;
    let fx = crate::ingest_support::Fixture::new(12);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    let mut raw = tonic::client::Grpc::new(server.channel());
    raw.ready().await.expect("channel ready");
    let refused = raw
        .unary(
            authed(
                RawPublish {
                    event: Some(RawEvent {
                        event_id: vec![b'e', 0xff, 0xfe],
                    }),
                },
                &token,
            ),
            http::uri::PathAndQuery::from_static("/stride.events.v1.EventService/PublishEvent"),
            tonic_prost::ProstCodec::<RawPublish, ev::PublishEventResponse>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("does not decode"), "{refused:?}");
    let receipts = format!(
        "SELECT count(*) AS n FROM event_receipts WHERE organization_id = '{}'",
        fx.org
    );
    assert_eq!(count(&server.db_url, &receipts).await, 0);

    let ok = EventServiceClient::new(server.channel())
        .publish_event(authed(
            ev::PublishEventRequest {
                event: Some(ev::Event {
                    event_id: "e-ok".into(),
                    occurred_at: crate::ingest_support::timestamp(chrono::Utc::now()),
                    user_id: fx.users[0].to_string(),
                    organization_id: String::new(),
                    payload: Some(ev::event::Payload::CourseCompleted(ev::CourseCompleted {
                        course_id: fx.courses[0].to_string(),
                    })),
                }),
            },
            &token,
        ))
        .await
        .expect("a well-formed request after it")
        .into_inner();
    assert_eq!(ok.result.unwrap().status, ev::EventStatus::Accepted as i32);
    assert_eq!(count(&server.db_url, &receipts).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_off_by_its_deadline_leaves_no_transaction_open() {
    use stride::proto::gamification::v1 as pb;
    use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;

    let (server, token) = learner_with_deadline_300ms().await;
    let profile = || {
        let mut client = GamificationServiceClient::new(server.channel());
        let request = authed(pb::GetProfileRequest::default(), &token);
        async move { client.get_profile(request).await }
    };
    assert!(eventually(Duration::from_secs(10), async || profile().await.is_ok()).await);

    // GetProfile's transaction reads the user, then blocks on user_points,
    // holding what it has taken so far.
    let mut locker = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE user_points IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let late = profile().await.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    // While the lock is still held, the abandoned transaction ends: it is
    // neither parked in the pool nor left waiting. Within 2.5 s: shorter
    // than the health probe's 5 s, whose next checkout would discard a
    // parked connection and hide the leak. Only this test's database:
    // other tests' servers share the cluster and its stride_app role.
    let open = "SELECT count(*) AS n FROM pg_stat_activity \
                WHERE usename = 'stride_app' AND datname = current_database() \
                AND (xact_start IS NOT NULL OR state LIKE 'idle in transaction%')";
    assert!(
        eventually(Duration::from_millis(2_500), async || count(
            &server.db_url,
            open
        )
        .await
            == 0)
        .await,
        "the cut-off call's transaction was rolled back"
    );
    locker.batch_execute("COMMIT").await.unwrap();
    assert!(eventually(Duration::from_secs(10), async || profile().await.is_ok()).await);
}

/// A body that is not gRPC framing (a bad compression flag, a frame cut
/// short, no message at all) is the caller's mistake: INVALID_ARGUMENT
/// with the reason, where tonic answered INTERNAL (found by the fuzz
/// target `decode_requests`).
#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_grpc_framing_is_invalid_argument() {
    use http_body_util::{BodyExt, Full};
    use stride::auth::Scope;
    use tower::ServiceExt;

    let server = TestServer::start().await;
    let fx = crate::ingest_support::Fixture::new(13);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    let cases: [(&str, Vec<u8>); 3] = [
        ("compression flag 2", vec![2, 0, 0, 0, 3, b'a', b'b', b'c']),
        ("a frame cut short", vec![0, 0, 0]),
        ("no message", vec![]),
    ];
    for (what, body) in cases {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{}/stride.events.v1.EventService/PublishEvent",
                server.addr
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {token}"))
            .body(tonic::body::Body::new(Full::new(bytes::Bytes::from(body))))
            .unwrap();
        let response = server.channel().oneshot(request).await.expect(what);
        let status = match tonic::Status::from_header_map(response.headers()) {
            Some(status) => status,
            None => {
                let body = response.into_body().collect().await.expect(what);
                let trailers = body.trailers().expect("a status in the trailers");
                tonic::Status::from_header_map(trailers).expect("a status")
            }
        };
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(
            status.message().contains("not well-formed gRPC"),
            "{what}: {status:?}"
        );
    }
    let receipts = "SELECT count(*) AS n FROM event_receipts";
    assert_eq!(count(&server.db_url, receipts).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_streams_with_one_token_waits_for_one_token_check_not_the_pool() {
    // Two connections that a call waits 300 ms for; the token checks are
    // held up for longer than that.
    let limits = Limits::default();
    let server = TestServer::start_with_pool_and(2, Duration::from_millis(300), limits).await;
    let fx = Fixture::new(91);
    fx.create(&server.db_url).await;
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    let streams = 60;
    let shared_before = token_verdicts(&server, "shared").await;

    let mut locker = block_token_checks(&server).await;
    let calls: Vec<_> = (0..streams)
        .map(|s| {
            let (channel, token) = (server.channel(), token.clone());
            let events: Vec<_> = (0..5)
                .map(|i| pb::PublishEventsRequest {
                    event: Some(graded_now(
                        &format!("burst-{s}-{i}"),
                        fx.users[(s + i) % fx.users.len()],
                        fx.courses[0],
                        70.0,
                    )),
                })
                .collect();
            tokio::spawn(async move {
                let mut results = EventServiceClient::new(channel)
                    .publish_events(authed(tokio_stream::iter(events), &token))
                    .await?
                    .into_inner();
                let mut n = 0;
                while let Some(result) = results.next().await {
                    result?;
                    n += 1;
                }
                Ok::<_, tonic::Status>(n)
            })
        })
        .collect();
    // One check waits on the lock; the other calls wait for its verdict.
    assert!(
        one_call_blocked(&server).await,
        "one token check is held up"
    );
    // Past the pool's wait: unshared, 58 checks would have given up.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(blocked_calls(&server).await, 1, "still a single check");
    locker.batch_execute("COMMIT").await.unwrap();

    for call in calls {
        assert_eq!(call.await.unwrap().expect("the stream ends OK"), 5);
    }
    assert_eq!(
        count(
            &server.db_url,
            "SELECT count(*) AS n FROM event_receipts WHERE event_id LIKE 'burst-%'"
        )
        .await,
        (streams * 5) as i64
    );
    let shared = token_verdicts(&server, "shared").await - shared_before;
    assert!(
        shared >= (streams - 2) as u64,
        "{shared} of {streams} shared"
    );
}
