//! Property: random event sequences, shuffled, with duplicates, cut into
//! random batches, leave PostgreSQL in exactly the state an in-order,
//! one-at-a-time replay leaves, and both what a recompute from everything
//! gives. Then a streak taken batch by batch through freezes, milestones,
//! late facts and a time zone change, resumed or replayed as it must be.
//! Runs the real ingestion SQL as the runtime role under row-level
//! security (no gRPC: the streams are covered in `ingest`; this explores
//! orders and batchings).

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{Duration, NaiveTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use proptest::prelude::*;
use stride::api::events::convert::validate;
use stride::db::ingest::{self, Outcome, Streaks};
use stride::db::tenant::{Begin, DbIdentity, transaction};
use stride::proto::events::v1 as pb;
use uuid::Uuid;

use crate::harness::TestDb;
use crate::ingest_support::{
    Fixture, count, derived_state, random_events, recompute_differences, timestamp,
};

/// Applies `batch` as one transaction, as the service does.
async fn apply(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    batch: &[pb::Event],
) -> (Vec<Outcome>, Streaks) {
    let checked = Arc::new(
        batch
            .iter()
            .map(|e| validate(e, Utc::now()))
            .collect::<Vec<_>>(),
    );
    let identity = DbIdentity::service(Some(org));
    transaction(conn, Begin::writing(&identity), move |conn| {
        Box::pin(async move { ingest::apply_counted(conn, Some(org), &checked).await })
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
                let (outcome, streaks) = apply(app_ref, fx.org, std::slice::from_ref(event)).await;
                assert!(matches!(outcome[..], [Outcome::Accepted(_)]), "{outcome:?}");
                // In order, only a completion sorting before a stored one
                // of its day makes a replay; every other event resumes.
                if !matches!(event.payload, Some(pb::event::Payload::CourseCompleted(_))) {
                    assert_eq!(streaks, Streaks { resumed: 1, replayed: 0 }, "{event:?}");
                }
            }
            let mut accepted = 0;
            let mut rest = delivery.as_slice();
            let mut batch = 0;
            while !rest.is_empty() {
                let size = sizes[batch % sizes.len()].min(rest.len());
                let (now, later) = rest.split_at(size);
                let (outcomes, _) = apply(app_sub, fx.org, now).await;
                assert!(outcomes.iter().all(|o| matches!(o, Outcome::Accepted(_) | Outcome::Duplicate)));
                accepted += outcomes.iter().filter(|o| matches!(o, Outcome::Accepted(_))).count();
                rest = later;
                batch += 1;
            }
            // Either way of ingesting left what replaying everything gives.
            for owner in [&mut *owner_ref, &mut *owner_sub] {
                let differences = recompute_differences(owner, &fx.users).await;
                assert!(differences.is_empty(), "recompute differs: {differences:?}");
            }
            let states = (derived_state(&reference.url).await, derived_state(&subject.url).await, accepted);
            *conns.borrow_mut() = Some(taken);
            states
        });
        prop_assert_eq!(accepted, n, "each event accepted exactly once");
        prop_assert_eq!(actual, expected);
    });
}

const RESUMED: Streaks = Streaks {
    resumed: 1,
    replayed: 0,
};
const REPLAYED: Streaks = Streaks {
    resumed: 0,
    replayed: 1,
};

/// Applies one batch of one person's events (`app`: runtime role), which
/// must all be accepted with the streak computed as `expected`; then a
/// dry-run recompute (`owner`) must find nothing to change.
async fn step(
    app: &mut AsyncPgConnection,
    owner: &mut AsyncPgConnection,
    fx: &Fixture,
    what: &str,
    batch: &[pb::Event],
    expected: Streaks,
) {
    let (outcomes, streaks) = apply(app, fx.org, batch).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Accepted(_))),
        "{what}: {outcomes:?}"
    );
    assert_eq!(streaks, expected, "{what}");
    let differences = recompute_differences(owner, &fx.users).await;
    assert!(
        differences.is_empty(),
        "{what}: recompute differs: {differences:?}"
    );
}

/// One person (UTC) through a milestone (and an earlier event on its day),
/// a freeze earned and spent, and late facts. Each in-order batch goes on from the stored streak; a late
/// one, and a completion moved so it would count twice, replay the history.
/// After each batch the stored state is what a recompute from everything
/// gives.
#[tokio::test]
async fn a_streak_goes_on_batch_by_batch_as_a_replay_would() {
    let fx = Fixture::with_courses(7, 21);
    let db = TestDb::migrated().await;
    fx.create(&db.url).await;
    let mut app = AsyncPgConnection::establish(&db.app_url).await.unwrap();
    let mut owner = AsyncPgConnection::establish(&db.url).await.unwrap();
    let user = fx.users[0];
    let first_day = Utc::now().date_naive() - Duration::days(20);
    let at = |day: i64, hour: u32, minute: u32| {
        (first_day + Duration::days(day))
            .and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap())
            .and_utc()
    };
    let mut n = 0;
    let mut event = |when, payload| {
        n += 1;
        pb::Event {
            event_id: format!("s-{n}"),
            occurred_at: timestamp(when),
            user_id: user.to_string(),
            organization_id: String::new(),
            payload: Some(payload),
        }
    };
    let (course, lesson) = fx.lessons[0];
    let lesson_on = |day| {
        let payload = pb::event::Payload::LessonCompleted(pb::LessonCompleted {
            course_id: course.to_string(),
            lesson_id: lesson.to_string(),
        });
        (at(day, 12, 0), payload)
    };
    let completed = |c: usize| {
        pb::event::Payload::CourseCompleted(pb::CourseCompleted {
            course_id: fx.courses[c].to_string(),
        })
    };

    // (what, batch, how its streak must be computed)
    let mut steps: Vec<(&str, Vec<pb::Event>, Streaks)> = Vec::new();
    for day in 0..7 {
        let (when, payload) = lesson_on(day);
        steps.push((
            "a day of the first streak",
            vec![event(when, payload)],
            RESUMED,
        ));
    }
    steps.push((
        "an earlier lesson on day 6, where 7 days were reached: the milestone moves",
        vec![event(at(6, 8, 0), lesson_on(6).1)],
        REPLAYED,
    ));
    let (when, payload) = lesson_on(7);
    steps.push(("day 7", vec![event(when, payload)], RESUMED));
    steps.push((
        "an earlier lesson on day 7: its streak day moves",
        vec![event(at(7, 8, 0), lesson_on(7).1)],
        RESUMED,
    ));
    steps.push((
        "19 courses on day 8: the 10th earns a freeze",
        (0..19)
            .map(|c| event(at(8, 10, c as u32), completed(c)))
            .collect(),
        RESUMED,
    ));
    steps.push((
        "the last of them again, earlier that day: counted once",
        vec![event(at(8, 9, 0), completed(18))],
        REPLAYED,
    ));
    let (when, payload) = lesson_on(10);
    steps.push((
        "day 10 after a missed day: the freeze bridges it",
        vec![event(when, payload)],
        RESUMED,
    ));
    steps.push((
        "the 20th course on day 10 earns a second freeze",
        vec![event(at(10, 15, 0), completed(20))],
        RESUMED,
    ));
    steps.push((
        "a course completed again, days earlier: moves the earnings",
        vec![event(at(5, 12, 30), completed(0))],
        REPLAYED,
    ));
    let (when, payload) = lesson_on(9);
    steps.push((
        "the missed day arrives late: nothing to bridge",
        vec![event(when, payload)],
        REPLAYED,
    ));

    for (what, batch, expected) in &steps {
        step(&mut app, &mut owner, &fx, what, batch, *expected).await;
    }

    let row = |column: &str| {
        format!("SELECT {column}::int8 AS n FROM user_points WHERE user_id = '{user}'")
    };
    // Days 0-10 with none missed; both freezes held.
    assert_eq!(count(&db.url, &row("current_streak")).await, 11);
    assert_eq!(count(&db.url, &row("longest_streak")).await, 11);
    assert_eq!(count(&db.url, &row("freezes_held")).await, 2);
    assert_eq!(count(&db.url, &row("courses_completed")).await, 20);
    let milestones = format!(
        "SELECT count(*) AS n FROM point_transactions WHERE user_id = '{user}' AND source_key = 'streak_milestone:7'"
    );
    assert_eq!(count(&db.url, &milestones).await, 1);
}

/// A person's time zone changes between batches: the next batch replays the
/// streak once (stored completions are dated in the zone), the following
/// one resumes, and a recompute agrees after each.
#[tokio::test]
async fn a_changed_time_zone_replays_the_streak_once() {
    let fx = Fixture::with_courses(8, 3);
    let db = TestDb::migrated().await;
    fx.create(&db.url).await;
    let mut app = AsyncPgConnection::establish(&db.app_url).await.unwrap();
    let mut owner = AsyncPgConnection::establish(&db.url).await.unwrap();
    let user = fx.users[0];
    let (course, lesson) = fx.lessons[0];
    let lesson_at = |id: &str, days_ago: i64| pb::Event {
        event_id: id.into(),
        occurred_at: timestamp(Utc::now() - Duration::days(days_ago)),
        user_id: user.to_string(),
        organization_id: String::new(),
        payload: Some(pb::event::Payload::LessonCompleted(pb::LessonCompleted {
            course_id: course.to_string(),
            lesson_id: lesson.to_string(),
        })),
    };
    let completion = pb::Event {
        event_id: "done".into(),
        payload: Some(pb::event::Payload::CourseCompleted(pb::CourseCompleted {
            course_id: course.to_string(),
        })),
        ..lesson_at("done", 4)
    };
    let steps = [
        ("a first lesson", lesson_at("a", 5), RESUMED, None),
        ("a completion", completion, RESUMED, None),
        (
            "a lesson after the zone changed",
            lesson_at("b", 3),
            REPLAYED,
            Some("Asia/Tokyo"),
        ),
        ("the next lesson", lesson_at("c", 2), RESUMED, None),
    ];
    for (what, event, expected, new_zone) in steps {
        if let Some(zone) = new_zone {
            owner
                .batch_execute(&format!(
                    "UPDATE users SET time_zone = '{zone}' WHERE id = '{user}'"
                ))
                .await
                .unwrap();
        }
        step(&mut app, &mut owner, &fx, what, &[event], expected).await;
    }
    let zone = format!(
        "SELECT count(*) AS n FROM user_points WHERE user_id = '{user}' AND streak_zone = 'Asia/Tokyo'"
    );
    assert_eq!(count(&db.url, &zone).await, 1);
}
