//! Event ingestion over real gRPC: exactly-once under duplicates, conflicts,
//! bad events inside good batches, reordering, cut streams and a PostgreSQL
//! restart in the middle of a stream.

use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use stride::auth::Scope;
use stride::config::Limits;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::harness::{TestServer, authed};
use crate::ingest_support::{
    Fixture, count, derived_state, points_drift, publish_stream, random_events,
    random_events_within, recompute_differences, timestamp,
};

fn client(server: &TestServer) -> EventServiceClient<Channel> {
    EventServiceClient::new(server.channel())
}

fn token(server: &TestServer, fx: &Fixture) -> String {
    server.org_service_token("lms", fx.org, &[Scope::EventsWrite])
}

async fn setup(seed: u128) -> (TestServer, Fixture) {
    let server = TestServer::start().await;
    let fx = Fixture::new(seed);
    fx.create(&server.db_url).await;
    (server, fx)
}

/// A fixed past instant, so an event built twice is the same event.
fn at(hours_ago: i64) -> Option<prost_types::Timestamp> {
    let base = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 20, 12, 0, 0).unwrap();
    timestamp(base - chrono::Duration::hours(hours_ago))
}

fn completed(fx: &Fixture, id: &str, user: usize, course: usize) -> pb::Event {
    pb::Event {
        event_id: id.into(),
        occurred_at: at(2),
        user_id: fx.users[user].to_string(),
        organization_id: String::new(),
        payload: Some(pb::event::Payload::CourseCompleted(pb::CourseCompleted {
            course_id: fx.courses[course].to_string(),
        })),
    }
}

fn graded(fx: &Fixture, id: &str, score: f64) -> pb::Event {
    pb::Event {
        event_id: id.into(),
        occurred_at: at(1),
        user_id: fx.users[0].to_string(),
        organization_id: String::new(),
        payload: Some(pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
            course_id: fx.courses[0].to_string(),
            assessment_id: "final".into(),
            skill_id: fx.skills[0].to_string(),
            score,
        })),
    }
}

/// Sends `events` on one stream and collects every result.
async fn publish_all(
    client: &mut EventServiceClient<Channel>,
    token: &str,
    events: Vec<pb::Event>,
) -> Vec<pb::EventResult> {
    let requests = tokio_stream::iter(
        events
            .into_iter()
            .map(|e| pb::PublishEventsRequest { event: Some(e) }),
    );
    let mut responses = client
        .publish_events(authed(requests, token))
        .await
        .expect("open stream")
        .into_inner();
    let mut results = Vec::new();
    while let Some(response) = responses.next().await {
        results.push(response.expect("stream item").result.expect("result"));
    }
    results
}

fn status(result: &pb::EventResult) -> pb::EventStatus {
    pb::EventStatus::try_from(result.status).expect("known status")
}

#[tokio::test]
async fn unary_event_is_accepted_once_then_duplicate_then_conflict() {
    let (server, fx) = setup(1).await;
    let token = token(&server, &fx);
    let mut client = client(&server);
    let event = completed(&fx, "done-1", 0, 0);

    let first = client
        .publish_event(authed(
            pb::PublishEventRequest {
                event: Some(event.clone()),
            },
            &token,
        ))
        .await
        .expect("accepted")
        .into_inner()
        .result
        .unwrap();
    assert_eq!(status(&first), pb::EventStatus::Accepted);

    let again = client
        .publish_event(authed(
            pb::PublishEventRequest {
                event: Some(event.clone()),
            },
            &token,
        ))
        .await
        .expect("duplicate is a success")
        .into_inner()
        .result
        .unwrap();
    assert_eq!(status(&again), pb::EventStatus::Duplicate);

    let mut other = completed(&fx, "done-1", 0, 1);
    other.payload = completed(&fx, "x", 0, 1).payload;
    let conflict = client
        .publish_event(authed(
            pb::PublishEventRequest { event: Some(other) },
            &token,
        ))
        .await
        .expect_err("same id, other payload");
    assert_eq!(conflict.code(), Code::AlreadyExists);
    assert!(
        conflict.message().contains("done-1"),
        "{}",
        conflict.message()
    );

    let db = &server.db_url;
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM learning_events").await,
        1
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM event_receipts").await,
        1
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM enrollments WHERE status = 'completed' AND progress_percent = 100").await,
        1,
        "the completion derived a completed enrollment; the conflicting one derived nothing"
    );
}

#[tokio::test]
async fn unary_invalid_event_names_the_field_and_stores_nothing() {
    let (server, fx) = setup(2).await;
    let token = token(&server, &fx);
    let mut client = client(&server);

    let cases = [
        (graded(&fx, "bad-score", 120.0), "assessment_graded.score"),
        (
            {
                let mut e = completed(&fx, "bad-course", 0, 0);
                e.payload = Some(pb::event::Payload::CourseCompleted(pb::CourseCompleted {
                    course_id: Uuid::new_v4().to_string(),
                }));
                e
            },
            "course_completed.course_id",
        ),
        (
            {
                let mut e = completed(&fx, "bad-user", 0, 0);
                e.user_id = Uuid::new_v4().to_string();
                e
            },
            "user_id",
        ),
        (
            {
                let mut e = completed(&fx, "future", 0, 0);
                e.occurred_at = timestamp(Utc::now() + chrono::Duration::days(3));
                e
            },
            "occurred_at",
        ),
        (
            {
                let mut e = completed(&fx, "", 0, 0);
                e.event_id = String::new();
                e
            },
            "event_id",
        ),
    ];
    for (event, field) in cases {
        let err = client
            .publish_event(authed(
                pb::PublishEventRequest { event: Some(event) },
                &token,
            ))
            .await
            .expect_err("invalid");
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{field}: {}",
            err.message()
        );
        use tonic_types::StatusExt;
        let details = err.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .expect("field violations")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, [field]);
    }
    let db = &server.db_url;
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM event_receipts").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM learning_events").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM daily_activity").await,
        0
    );
}

#[tokio::test]
async fn a_stream_answers_every_event_in_order_and_bad_ones_do_not_fail_the_batch() {
    let (server, fx) = setup(3).await;
    let token = token(&server, &fx);
    let mut client = client(&server);

    let mut foreign = completed(&fx, "foreign-org", 1, 0);
    foreign.organization_id = Uuid::new_v4().to_string();
    let events = vec![
        completed(&fx, "a", 0, 0),
        graded(&fx, "b", 101.0), // invalid score
        completed(&fx, "c", 1, 1),
        completed(&fx, "a", 0, 0), // duplicate of an event in the same batch
        completed(&fx, "c", 2, 1), // conflict: same id, another person
        foreign,                   // another organization than the token's
        graded(&fx, "d", 85.0),
    ];
    let results = publish_all(&mut client, &token, events).await;
    let statuses: Vec<_> = results.iter().map(status).collect();
    use pb::EventStatus::*;
    assert_eq!(
        statuses,
        [
            Accepted, Invalid, Accepted, Duplicate, Conflict, Invalid, Accepted
        ]
    );
    assert_eq!(
        results.iter().map(|r| r.index).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    assert_eq!(results[1].violations[0].field, "assessment_graded.score");
    assert_eq!(results[5].violations[0].field, "organization_id");

    // Sent again, the accepted ones are duplicates and nothing changes.
    let before = derived_state(&server.db_url).await;
    let again = publish_all(
        &mut client,
        &token,
        vec![completed(&fx, "a", 0, 0), graded(&fx, "d", 85.0)],
    )
    .await;
    assert!(again.iter().all(|r| status(r) == Duplicate));
    // Repeats inside a batch are judged against what is stored, not
    // against each other: a changed "a" twice is two conflicts.
    let changed_a = completed(&fx, "a", 0, 2);
    let mixed = publish_all(
        &mut client,
        &token,
        vec![changed_a.clone(), changed_a, completed(&fx, "a", 0, 0)],
    )
    .await;
    let statuses: Vec<_> = mixed.iter().map(status).collect();
    assert_eq!(statuses, [Conflict, Conflict, Duplicate]);
    assert_eq!(derived_state(&server.db_url).await, before);

    let db = &server.db_url;
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM learning_events").await,
        3
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM assessments WHERE passed").await,
        1
    );
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM user_skills WHERE mastery_level = 85 AND mastered_at IS NOT NULL").await,
        1,
        "an assessment of a skill measures its mastery"
    );
    assert_eq!(
        count(
            db,
            "SELECT sum(learning_activities)::bigint AS n FROM daily_activity"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn shuffled_and_repeated_delivery_derives_the_same_state_as_in_order() {
    let fx = Fixture::new(4);
    let in_order = TestServer::start().await;
    let shuffled = TestServer::start().await;
    fx.create(&in_order.db_url).await;
    fx.create(&shuffled.db_url).await;

    let mut events = random_events(&fx, 300, 42, "ev");
    events.sort_by_key(|e| e.occurred_at.map(|t| (t.seconds, t.nanos)));
    let results = publish_all(
        &mut client(&in_order),
        &token(&in_order, &fx),
        events.clone(),
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| status(r) == pb::EventStatus::Accepted)
    );

    // Reversed-then-shuffled, every tenth event sent twice, in small streams.
    let mut late = events.clone();
    late.extend(events.iter().step_by(10).cloned());
    late.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let token = token(&shuffled, &fx);
    let mut shuffled_client = client(&shuffled);
    for chunk in late.chunks(37) {
        publish_all(&mut shuffled_client, &token, chunk.to_vec()).await;
    }
    assert_eq!(
        derived_state(&shuffled.db_url).await,
        derived_state(&in_order.db_url).await
    );
    // Totals and periods are moved batch by batch, late events included:
    // they must still be the ledger's sums.
    assert_eq!(points_drift(&shuffled.db_url).await, 0);
    assert_eq!(points_drift(&in_order.db_url).await, 0);
    assert_eq!(
        count(
            &shuffled.db_url,
            "SELECT count(*) AS n FROM learning_events"
        )
        .await,
        300
    );
}

#[tokio::test]
async fn a_stream_cut_midway_and_retried_loses_nothing_and_applies_nothing_twice() {
    let (server, fx) = setup(5).await;
    let token = token(&server, &fx);
    let events = random_events(&fx, 200, 5, "cut");

    // Send 120 events, read 50 acknowledgements, then drop the call.
    let (tx, rx) = mpsc::channel(256);
    let mut responses = client(&server)
        .publish_events(authed(ReceiverStream::new(rx), &token))
        .await
        .expect("open")
        .into_inner();
    for event in events.iter().take(120) {
        tx.send(pb::PublishEventsRequest {
            event: Some(event.clone()),
        })
        .await
        .unwrap();
    }
    let mut acknowledged = 0;
    while acknowledged < 50 {
        responses.next().await.expect("ack").expect("ok");
        acknowledged += 1;
    }
    drop(responses);
    drop(tx);

    // The producer resends everything from the start (it cannot know what
    // was applied past its last acknowledgement).
    let results = publish_all(&mut client(&server), &token, events.clone()).await;
    assert_eq!(results.len(), 200);
    for (i, r) in results.iter().enumerate().take(50) {
        assert_eq!(
            status(r),
            pb::EventStatus::Duplicate,
            "acknowledged event {i} must be a duplicate"
        );
    }
    assert!(results.iter().all(|r| matches!(
        status(r),
        pb::EventStatus::Accepted | pb::EventStatus::Duplicate
    )));

    // Same state as one clean delivery.
    let reference = TestServer::start().await;
    fx.create(&reference.db_url).await;
    publish_all(
        &mut client(&reference),
        &crate::ingest::token(&reference, &fx),
        events,
    )
    .await;
    assert_eq!(
        derived_state(&server.db_url).await,
        derived_state(&reference.db_url).await
    );
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_with_resource_exhausted() {
    let limits = Limits {
        max_event_streams: 1,
        ..Limits::default()
    };
    let server = TestServer::start_with(limits).await;
    let fx = Fixture::new(7);
    fx.create(&server.db_url).await;
    let token = token(&server, &fx);

    let (tx, rx) = mpsc::channel(1);
    let mut open = client(&server)
        .publish_events(authed(ReceiverStream::new(rx), &token))
        .await
        .expect("first stream")
        .into_inner();
    tx.send(pb::PublishEventsRequest {
        event: Some(completed(&fx, "s1", 0, 0)),
    })
    .await
    .unwrap();
    open.next().await.expect("ack").expect("ok");

    let refused = client(&server)
        .publish_events(authed(
            tokio_stream::iter(Vec::<pb::PublishEventsRequest>::new()),
            &token,
        ))
        .await
        .expect_err("second stream over the limit");
    assert_eq!(refused.code(), Code::ResourceExhausted);

    // Closing the first frees its slot.
    drop(tx);
    assert!(open.next().await.is_none());
    let mut admitted = false;
    for _ in 0..50 {
        if publish_ok(&server, &token, completed(&fx, "s2", 0, 1)).await {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "a stream is admitted once the first one closed");
}

async fn publish_ok(server: &TestServer, token: &str, event: pb::Event) -> bool {
    let requests = tokio_stream::iter(vec![pb::PublishEventsRequest { event: Some(event) }]);
    match client(server).publish_events(authed(requests, token)).await {
        Ok(response) => response
            .into_inner()
            .collect::<Result<Vec<_>, _>>()
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn events_need_an_events_write_service_token() {
    let (server, fx) = setup(8).await;
    let catalog_only = server.org_service_token("catalog", fx.org, &[Scope::CatalogWrite]);
    let err = client(&server)
        .publish_event(authed(
            pb::PublishEventRequest {
                event: Some(completed(&fx, "e", 0, 0)),
            },
            &catalog_only,
        ))
        .await
        .expect_err("scope missing");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        count(&server.db_url, "SELECT count(*) AS n FROM event_receipts").await,
        0
    );
}

/// Receipts of the fixture's organization: the events applied so far.
async fn applied(server: &TestServer, fx: &Fixture) -> i64 {
    let sql = format!(
        "SELECT count(*) AS n FROM event_receipts WHERE organization_id = '{}'",
        fx.org
    );
    count(&server.db_url, &sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_results_stops_its_stream_and_loses_nothing() {
    const EVENTS: usize = 1_500;
    let limits = Limits {
        ingest_batch_size: 10,
        ..Limits::default()
    };
    let server = TestServer::start_with(limits).await;
    let fx = Fixture::new(8);
    fx.create(&server.db_url).await;
    let token = token(&server, &fx);
    // A small HTTP/2 window: unread results back up after a few hundred
    // (about 400 here).
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .initial_stream_window_size(Some(8 * 1024))
        .connect()
        .await
        .unwrap();
    let requests: Vec<pb::PublishEventsRequest> = random_events(&fx, EVENTS, 9, "slow")
        .into_iter()
        .map(|e| pb::PublishEventsRequest { event: Some(e) })
        .collect();
    let mut results = EventServiceClient::new(channel)
        .publish_events(authed(tokio_stream::iter(requests), &token))
        .await
        .expect("stream")
        .into_inner();

    // Not reading: the server applies what fits in the window and its
    // results queue (one batch), then stops reading events.
    let mut last = -1;
    let mut settled = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = applied(&server, &fx).await;
        if now == last && now > 0 {
            settled = true;
            break;
        }
        last = now;
    }
    assert!(settled, "applying stopped while nobody read the results");
    assert!(
        last < EVENTS as i64 / 2,
        "{last} of {EVENTS} applied before the client read any result"
    );

    // Reading again: the stream resumes, every event is answered once.
    let mut answered = 0;
    while let Some(r) = results.next().await {
        assert_eq!(r.expect("result").result.unwrap().index, answered as u64);
        answered += 1;
    }
    assert_eq!(answered, EVENTS);
    assert_eq!(applied(&server, &fx).await, EVENTS as i64);
}

/// A server holding `n` random events of `fx` (seed, id prefix), published
/// in time order on one stream: the state other deliveries must reach.
/// Returns the server and the events in that order.
async fn in_order_reference(
    fx: &Fixture,
    n: usize,
    seed: u64,
    prefix: &str,
) -> (TestServer, Vec<pb::Event>) {
    let server = TestServer::start().await;
    fx.create(&server.db_url).await;
    let mut events = random_events(fx, n, seed, prefix);
    events.sort_by_key(|e| e.occurred_at.map(|t| (t.seconds, t.nanos)));
    publish_all(&mut client(&server), &token(&server, fx), events.clone()).await;
    (server, events)
}

/// Unary calls made at once share transactions (group commit): each call
/// still gets its own answer, and the state equals one in-order stream's.
#[tokio::test]
async fn concurrent_unary_calls_grouped_into_shared_transactions_answer_each_call_and_apply_once() {
    let fx = Fixture::new(11);
    let (in_order, events) = in_order_reference(&fx, 120, 5, "unary").await;
    // One worker: every call that arrives while it applies joins the next group.
    let grouped = TestServer::start_with(Limits {
        ingest_workers: 1,
        ..Limits::default()
    })
    .await;
    fx.create(&grouped.db_url).await;

    // Every event, and every fifth twice, shuffled, 24 calls at a time;
    // then every seventh id again with another payload.
    let mut calls: Vec<pb::Event> = events.clone();
    calls.extend(events.iter().step_by(5).cloned());
    calls.shuffle(&mut rand::rngs::StdRng::seed_from_u64(3));
    let reused: Vec<pb::Event> = events
        .iter()
        .step_by(7)
        .map(|e| pb::Event {
            occurred_at: at(5_000),
            ..e.clone()
        })
        .collect();
    let token = token(&grouped, &fx);
    let send_all = |wave: &[pb::Event]| {
        let sent: Vec<_> = wave
            .iter()
            .map(|event| {
                let mut client = client(&grouped);
                let request = authed(
                    pb::PublishEventRequest {
                        event: Some(event.clone()),
                    },
                    &token,
                );
                let id = event.event_id.clone();
                async move {
                    let answer = client
                        .publish_event(request)
                        .await
                        .map(|r| status(&r.into_inner().result.expect("result")))
                        .map_err(|s| s.code());
                    (id, answer)
                }
            })
            .collect();
        futures::future::join_all(sent)
    };
    let mut answers = Vec::new();
    for wave in calls.chunks(24) {
        answers.extend(send_all(wave).await);
    }

    // Per id: exactly one call applied it, the others were duplicates.
    let mut by_id: std::collections::HashMap<String, Vec<Result<pb::EventStatus, Code>>> =
        Default::default();
    for (id, answer) in answers {
        by_id.entry(id).or_default().push(answer);
    }
    assert_eq!(by_id.len(), 120);
    for (id, got) in &by_id {
        let accepted = got
            .iter()
            .filter(|a| **a == Ok(pb::EventStatus::Accepted))
            .count();
        assert_eq!(accepted, 1, "{id}: {got:?}");
        assert!(
            got.iter().all(|a| matches!(
                a,
                Ok(pb::EventStatus::Accepted | pb::EventStatus::Duplicate)
            )),
            "{id}: {got:?}"
        );
    }
    for (id, answer) in send_all(&reused).await {
        assert_eq!(answer, Err(Code::AlreadyExists), "{id}: another payload");
    }
    assert_eq!(points_drift(&grouped.db_url).await, 0);

    assert_eq!(
        derived_state(&grouped.db_url).await,
        derived_state(&in_order.db_url).await
    );
}

/// The current week and month are moved batch by batch (not summed from
/// the ledger): with every event inside the week, late ones re-splitting
/// capped days and moving once-per-thing awards, they must still equal
/// the ledger's sums.
#[tokio::test]
async fn periods_moved_batch_by_batch_equal_the_ledgers_sums() {
    let (server, fx) = setup(12).await;
    // The organization's zone is UTC: its week began Monday 00:00 UTC.
    let now = Utc::now();
    let monday = now.date_naive().week(chrono::Weekday::Mon).first_day();
    let into_week = (now - monday.and_time(chrono::NaiveTime::MIN).and_utc()).num_minutes();
    let mut events = random_events_within(&fx, 240, 9, "week", 1..into_week.max(2));
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(9));
    // A low daily cap, so that late events re-split days.
    let mut conn = diesel_async::AsyncPgConnection::establish(&server.db_url)
        .await
        .expect("owner connection");
    conn.batch_execute("UPDATE point_rules SET points = 150 WHERE calculation = 'cap' AND active")
        .await
        .expect("cap");
    let token = token(&server, &fx);
    let mut client = client(&server);
    for chunk in events.chunks(7) {
        publish_all(&mut client, &token, chunk.to_vec()).await;
    }
    assert!(
        count(
            &server.db_url,
            "SELECT count(*) AS n FROM point_transactions WHERE points_capped > 0"
        )
        .await
            > 0,
        "some days reached the cap"
    );
    assert_eq!(points_drift(&server.db_url).await, 0);
}

/// Four streams at once, each with a stretch of the same people's events
/// in time order, the latest stretch started first: their transactions
/// interleave on the same people, so a batch resumes from a row another
/// stream just wrote, or replays when another stream stored a later day
/// first. The result is the in-order state, and what a recompute from
/// everything gives.
#[tokio::test]
async fn concurrent_streams_for_the_same_people_derive_the_in_order_state() {
    let fx = Fixture::new(13);
    let (in_order, events) = in_order_reference(&fx, 160, 13, "together").await;
    let concurrent = TestServer::start().await;
    fx.create(&concurrent.db_url).await;

    let shares: Vec<Vec<pb::Event>> = events.chunks(40).map(<[_]>::to_vec).collect();
    // The latest stretch starts first, the others 20 ms apart: batches
    // bring days before ones another stream stored, while it still runs.
    let answers = futures::future::join_all(shares.into_iter().enumerate().map(|(k, share)| {
        let concurrent = &concurrent;
        async move {
            tokio::time::sleep(Duration::from_millis(20 * (3 - k as u64))).await;
            publish_stream(concurrent, fx.org, share).await
        }
    }))
    .await;
    let accepted = answers
        .iter()
        .flatten()
        .filter(|r| r.status == pb::EventStatus::Accepted as i32)
        .count();
    assert_eq!(accepted, 160, "every event accepted once");

    assert_eq!(points_drift(&concurrent.db_url).await, 0);
    assert_eq!(
        derived_state(&concurrent.db_url).await,
        derived_state(&in_order.db_url).await
    );
    let mut owner = diesel_async::AsyncPgConnection::establish(&concurrent.db_url)
        .await
        .expect("owner connection");
    let differences = recompute_differences(&mut owner, &fx.users).await;
    assert!(differences.is_empty(), "recompute differs: {differences:?}");
}
