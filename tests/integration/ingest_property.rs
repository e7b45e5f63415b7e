//! Property: random event sequences, shuffled, with duplicates, cut into
//! random batches, leave PostgreSQL in exactly the state an in-order,
//! one-at-a-time replay leaves. Runs the real ingestion SQL as the runtime
//! role under row-level security (no gRPC: the streams are covered in
//! `ingest`; this explores orders and batchings).

use std::cell::RefCell;
use std::sync::Arc;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use proptest::prelude::*;
use stride::db::ingest::{self, Outcome};
use stride::db::tenant::{DbIdentity, in_tenant};
use stride::domain::events::validate;
use stride::proto::events::v1 as pb;
use uuid::Uuid;

use crate::harness::TestDb;
use crate::ingest_support::{Fixture, derived_state, random_events};

/// Applies `batch` as one transaction, as the service does.
async fn apply(conn: &mut AsyncPgConnection, org: Uuid, batch: &[pb::Event]) -> Vec<Outcome> {
    let checked = Arc::new(
        batch
            .iter()
            .map(|e| validate(e, Utc::now()))
            .collect::<Vec<_>>(),
    );
    in_tenant(conn, &DbIdentity::service(Some(org)), move |conn| {
        Box::pin(async move { ingest::apply(conn, Some(org), &checked).await })
    })
    .await
    .expect("batch applies")
}

async fn reset(conn: &mut AsyncPgConnection) {
    conn.batch_execute(
        "TRUNCATE event_receipts, learning_events, assessments, user_skills, daily_activity, enrollments, \
         point_transactions, user_points, streak_freeze_events, user_achievements",
    )
    .await
    .expect("truncate");
}

#[test]
fn any_order_duplicates_and_batching_derive_the_in_order_state() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fx = Fixture::new(99);
    let (reference, subject) = rt.block_on(async {
        let (a, b) = (TestDb::migrated().await, TestDb::migrated().await);
        fx.create(&a.url).await;
        fx.create(&b.url).await;
        (a, b)
    });
    let connect = |url: &str| {
        rt.block_on(AsyncPgConnection::establish(url))
            .expect("connect")
    };
    // (owner of reference, owner of subject, runtime role on each)
    let conns = RefCell::new(Some((
        connect(&reference.url),
        connect(&subject.url),
        connect(&reference.app_url),
        connect(&subject.app_url),
    )));

    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        n in 1usize..80,
        seed in any::<u64>(),
        keys in prop::collection::vec(any::<u32>(), 200),
        repeats in prop::collection::vec(prop::bool::weighted(0.2), 100),
        sizes in prop::collection::vec(1usize..25, 100),
    )| {
        let mut events = random_events(&fx, n, seed, "p");
        events.sort_by_key(|e| e.occurred_at.map(|t| (t.seconds, t.nanos)));
        let keys = &keys;
        let mut delivery: Vec<(u32, pb::Event)> = events
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                let copies = if repeats[i] { 2 } else { 1 };
                (0..copies).map(move |c| (keys[(i * 2 + c) % keys.len()], e.clone()))
            })
            .collect();
        delivery.sort_by_key(|(k, _)| *k);
        let delivery: Vec<pb::Event> = delivery.into_iter().map(|(_, e)| e).collect();

        let (expected, actual, accepted) = rt.block_on(async {
            // Taken out of the cell for the case (no borrow across awaits).
            let mut taken = conns.borrow_mut().take().expect("connections");
            let (owner_ref, owner_sub, app_ref, app_sub) = &mut taken;
            reset(owner_ref).await;
            reset(owner_sub).await;
            for event in &events {
                let outcome = apply(app_ref, fx.org, std::slice::from_ref(event)).await;
                assert!(matches!(outcome[..], [Outcome::Accepted(_)]), "{outcome:?}");
            }
            let mut accepted = 0;
            let mut rest = delivery.as_slice();
            let mut batch = 0;
            while !rest.is_empty() {
                let size = sizes[batch % sizes.len()].min(rest.len());
                let (now, later) = rest.split_at(size);
                let outcomes = apply(app_sub, fx.org, now).await;
                assert!(outcomes.iter().all(|o| matches!(o, Outcome::Accepted(_) | Outcome::Duplicate)));
                accepted += outcomes.iter().filter(|o| matches!(o, Outcome::Accepted(_))).count();
                rest = later;
                batch += 1;
            }
            let states = (derived_state(&reference.url).await, derived_state(&subject.url).await, accepted);
            *conns.borrow_mut() = Some(taken);
            states
        });
        prop_assert_eq!(accepted, n, "each event accepted exactly once");
        prop_assert_eq!(actual, expected);
    });
}
