//! The gamification engine's store: gamification writes happen in the
//! transaction that stores the events (so an event can never pay twice,
//! nor be stored without its awards), and the same engine runs
//! `recompute`. The rules are pure (`domain::gamification::engine`); this
//! module reads what they need in a few rounds, each one set of
//! statements sent together, and writes the plan back in one more:
//! 1. the people's `user_points` rows, created and locked (in id order,
//!    like every writer: one person's awards are computed by one
//!    transaction at a time), then every fact that depends only on who
//!    they are; the statements after the lock run after it is granted;
//! 2. the whole history of the people whose streak cannot go on from the
//!    stored row (none, usually);
//! 3. the ledger rows the wanted awards may be;
//! 4. the other rows of the days whose cap changes (none, usually);
//! 5. the writes.

mod read;
mod write;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl, QueryResult};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub use self::read::learning_days;
use crate::db::models::user_points::PointsRow;
use crate::db::schema::users;
use crate::domain::gamification::engine::{
    self, Facts, LearningDays, People, Person, Plan, Reach, persons,
};
pub use crate::domain::gamification::engine::{BatchEvent, Paid};

/// Pays the awards of a batch's accepted events; returns what each paid,
/// in the order given, and the plan written. `days` are the batch's
/// learning days as the batch left them. Runs inside the ingestion
/// transaction.
pub async fn award(
    conn: &AsyncPgConnection,
    batch: &[BatchEvent<'_>],
    days: &LearningDays,
) -> QueryResult<(Vec<Paid>, Plan)> {
    if batch.is_empty() {
        return Ok((Vec::new(), Plan::default()));
    }
    let plan = plan(
        conn,
        engine::people_of(batch),
        Reach::Batch(days),
        Hold::CreateAndLock,
    )
    .await?;
    write::apply(conn, &plan).await?;
    Ok((plan.paid(batch), plan))
}

/// Recomputes the people given from everything stored about them, and
/// writes the result unless `dry_run`.
pub async fn recompute(
    conn: &mut AsyncPgConnection,
    user_ids: &[Uuid],
    dry_run: bool,
) -> QueryResult<Plan> {
    let found: Vec<(Uuid, Uuid, String)> = users::table
        .filter(users::id.eq_any(user_ids))
        .select((users::id, users::organization_id, users::time_zone))
        .load(conn)
        .await?;
    let people = found
        .into_iter()
        .map(|(id, org, zone)| (id, (org, crate::domain::zone::zone(&zone), Vec::new())))
        .collect();
    let lock = if dry_run {
        Hold::ReadOnly
    } else {
        Hold::LockExisting
    };
    let plan = plan(conn, people, Reach::Everything, lock).await?;
    if !dry_run {
        write::apply(conn, &plan).await?;
    }
    Ok(plan)
}

/// How a run holds the people's `user_points` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Ingestion: every person gets a row, locked.
    CreateAndLock,
    /// Recompute: existing rows locked; a person without one gets one only
    /// when there is something to store (a first event arriving meanwhile
    /// creates it, and its facts were not seen, so nothing is lost).
    LockExisting,
    /// Dry run: reads only.
    ReadOnly,
}

/// Reads what the engine needs for `people` and runs it.
async fn plan(
    conn: &AsyncPgConnection,
    people: People<'_>,
    reach: Reach<'_>,
    hold: Hold,
) -> QueryResult<Plan> {
    // Round 1: the rows, then the facts that depend only on the people.
    let ids: Vec<Uuid> = people.keys().copied().collect();
    let orgs: BTreeSet<Uuid> = people.values().map(|(org, _, _)| *org).collect();
    let create: Vec<(Uuid, Uuid)> = match hold {
        Hold::CreateAndLock => people.iter().map(|(u, (org, _, _))| (*u, *org)).collect(),
        _ => Vec::new(),
    };
    let skills_touched: Vec<(Uuid, Uuid)> = people
        .iter()
        .filter(|(_, (_, _, events))| {
            reach.is_everything() || events.iter().any(|b| b.event.payload.skill_id().is_some())
        })
        .map(|(u, (org, _, _))| (*u, *org))
        .collect();
    let lessons_of: &[Uuid] = if reach.is_everything() { &ids } else { &[] };
    let (created, rows, rules, completions, mastered, zones, domains, lessons, defs, held) = futures::join!(
        write::insert_empty_points(conn, &create),
        read::points_rows(conn, &ids, hold != Hold::ReadOnly),
        read::rules(conn),
        read::completions(conn, &ids),
        read::mastered(conn, &ids),
        read::org_zones(conn, &orgs),
        read::domains_mastered(conn, &skills_touched),
        read::lessons_completed(conn, lessons_of),
        read::achievements(conn, &orgs),
        read::held(conn, &ids),
    );
    created?;
    let rows = rows?;
    let existing: HashSet<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let mut before: HashMap<Uuid, PointsRow> = rows.into_iter().map(|r| (r.user_id, r)).collect();
    for (user, (org, _, _)) in &people {
        before
            .entry(*user)
            .or_insert_with(|| PointsRow::empty(*user, *org));
    }
    let mut facts = Facts {
        rules: rules?,
        completions: completions?,
        mastered: mastered?,
        org_zones: zones?,
        domains: domains?,
        lessons: lessons?,
        achievements: defs?,
        held: held?,
        ..Facts::default()
    };
    let persons: Vec<Person<'_>> = persons(people, &before);
    let resumes = engine::resumes(&persons, &facts.completions, reach);

    // Round 2: the history of the people whose streak replays.
    let replayed: Vec<Uuid> = persons
        .iter()
        .map(|p| p.user_id)
        .filter(|u| !resumes.contains_key(u))
        .collect();
    let (history, freezes) = futures::join!(
        read::history(conn, &replayed),
        read::freezes(conn, &replayed)
    );
    facts.history = history?;
    facts.freezes = freezes?;
    let mut wanted = engine::wanted(&persons, &facts, reach, &resumes);

    // Round 3: the stored rows the wanted awards may be. A batch reads the
    // rows of the days its awards fall on once: they hold its streak-day
    // and per-event keys, and the cap needs them.
    let keys = wanted.keys();
    let wanted_days = wanted.days();
    let (day_rows, stored) = match reach {
        Reach::Batch(_) => {
            let (on_days, by_key) = futures::join!(
                read::rows_on_days(conn, &wanted_days),
                read::thing_rows(conn, &ids, &keys)
            );
            let on_days = on_days?;
            let stored = engine::stored_matches(by_key?, &on_days, &keys);
            (on_days, stored)
        }
        Reach::Everything => (Vec::new(), read::all_rows(conn, &ids).await?),
    };
    let entries = std::mem::take(&mut wanted.entries);
    let mut entries = engine::merge(entries, stored, reach, &wanted.resumed);

    // Round 4: the other rows of the days whose cap is re-applied.
    let touched = engine::touched_days(&entries, reach);
    let unread: BTreeSet<_> = match reach {
        Reach::Batch(_) => touched.difference(&wanted_days).copied().collect(),
        // A recompute holds every row already.
        Reach::Everything => BTreeSet::new(),
    };
    let more_rows = read::rows_on_days(conn, &unread).await?;
    engine::add_day_rows(
        &mut entries,
        day_rows.into_iter().chain(more_rows),
        &touched,
    );

    let mut plan = engine::settle(
        persons,
        wanted,
        entries,
        &touched,
        &facts,
        reach,
        Utc::now(),
    );
    plan.existing = existing;
    Ok(plan)
}
