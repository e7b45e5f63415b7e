//! Applies a batch of validated events inside the caller's transaction:
//! receipts first (the idempotency key), then the raw log and everything
//! derived from it, set-based (a handful of statements per batch, not per
//! event). Because the receipt and the effects commit together, a retry
//! after any failure either finds the receipt (duplicate) or applies from
//! scratch: never twice, never half.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, Bool, Bytea, Date, Float8, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::prepared::{column, prepared};
use uuid::Uuid;

use crate::db::gamification::{self, BatchEvent, Paid};
use crate::db::schema::{analytics_cache, event_receipts, learning_paths, lessons, skills, users};
use crate::domain::FieldViolation;
use crate::domain::derive::{Derived, Placed};
use crate::domain::events::{Payload, ValidEvent};
use crate::domain::gamification::engine::LearningDays;
use crate::domain::references::{Catalog, Mentioned, place};

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored and applied, with what it paid.
    Accepted(Paid),
    Duplicate,
    Conflict,
    Invalid(Vec<FieldViolation>),
}

/// How the people of a batch got their streaks: gone on from the stored
/// row, or replayed from their whole history of learning days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streaks {
    pub resumed: usize,
    pub replayed: usize,
}

/// Applies `events` (already validated, or the violations that refused
/// them) for a caller scoped to `scope` (`None`: platform-wide). Returns one
/// outcome per event, in order. Runs inside the caller's transaction; an
/// error means the batch must be rolled back as a whole.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    scope: Option<Uuid>,
    events: &[Result<ValidEvent, Vec<FieldViolation>>],
) -> QueryResult<Vec<Outcome>> {
    apply_counted(conn, scope, events).await.map(|(o, _)| o)
}

/// [`apply`], also telling how the batch's streaks were computed.
pub async fn apply_counted(
    conn: &mut AsyncPgConnection,
    scope: Option<Uuid>,
    events: &[Result<ValidEvent, Vec<FieldViolation>>],
) -> QueryResult<(Vec<Outcome>, Streaks)> {
    let valid: Vec<&ValidEvent> = events.iter().filter_map(|e| e.as_ref().ok()).collect();
    let catalog = load_catalog(conn, &Mentioned::of(valid.iter().copied())).await?;

    // Each event: refused, a candidate keyed by its receipt, or a repeat of
    // a candidate's key in the same batch (judged once the stored payload
    // of that key is known).
    let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    let mut repeats: Vec<(usize, ReceiptKey, Vec<u8>)> = Vec::new();
    let mut first_of_key: HashSet<(Uuid, &str)> = HashSet::new();
    for (index, event) in events.iter().enumerate() {
        let event = match event {
            Ok(event) => event,
            Err(violations) => {
                outcomes[index] = Some(Outcome::Invalid(violations.clone()));
                continue;
            }
        };
        let placement = match place(event, scope, &catalog) {
            Ok(p) => p,
            Err(violations) => {
                outcomes[index] = Some(Outcome::Invalid(violations));
                continue;
            }
        };
        let org = placement.organization_id;
        let fingerprint = event.fingerprint();
        if !first_of_key.insert((org, event.event_id.as_str())) {
            repeats.push((index, (org, event.event_id.clone()), fingerprint));
            continue;
        }
        candidates.push(Candidate {
            index,
            event,
            organization_id: org,
            local_date: event.local_date(placement.zone),
            zone: placement.zone,
            fingerprint,
        });
    }

    let fresh = insert_receipts(conn, &candidates).await?;
    let mut stored = stored_fingerprints(conn, &candidates, &fresh).await?;
    let mut accepted = Vec::with_capacity(fresh.len());
    for candidate in &candidates {
        let key = (candidate.organization_id, candidate.event.event_id.clone());
        let outcome = if fresh.contains(&key) {
            accepted.push(candidate);
            stored.insert(key, candidate.fingerprint.clone());
            Outcome::Accepted(Paid::default())
        } else if stored.get(&key) == Some(&candidate.fingerprint) {
            Outcome::Duplicate
        } else {
            Outcome::Conflict
        };
        outcomes[candidate.index] = Some(outcome);
    }
    // A repeat is a duplicate of whatever is stored under its key now.
    for (index, key, fingerprint) in repeats {
        let same = stored.get(&key) == Some(&fingerprint);
        outcomes[index] = Some(if same {
            Outcome::Duplicate
        } else {
            Outcome::Conflict
        });
    }

    let mut streaks = Streaks::default();
    if !accepted.is_empty() {
        let derived = Derived::from_events(accepted.iter().map(|c| Placed {
            event: c.event,
            organization_id: c.organization_id,
            local_date: c.local_date,
        }));
        // One round: the raw log and every merge, sent together.
        let c: &AsyncPgConnection = conn;
        let (events, assessments, days, enrollments, skills, forgotten) = futures::join!(
            insert_events(c, &accepted),
            insert_assessments(c, &accepted),
            upsert_days(c, &derived),
            upsert_enrollments(c, &derived),
            upsert_skills(c, &derived),
            forget_personal_analytics(c, &accepted),
        );
        // The first failure is the cause; the later statements only found
        // the transaction aborted.
        events?;
        assessments?;
        let days = days?;
        enrollments?;
        skills?;
        forgotten?;
        // Awards last: they read the state the merges above produced.
        let batch: Vec<BatchEvent<'_>> = accepted
            .iter()
            .map(|c| BatchEvent {
                event: c.event,
                organization_id: c.organization_id,
                local_date: c.local_date,
                zone: c.zone,
            })
            .collect();
        let (paid, plan) = gamification::award(conn, &batch, &days).await?;
        streaks = Streaks {
            resumed: plan.resumed,
            replayed: plan.after.len() - plan.resumed,
        };
        for (candidate, paid) in accepted.iter().zip(paid) {
            outcomes[candidate.index] = Some(Outcome::Accepted(paid));
        }
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.expect("every event has an outcome"))
        .collect();
    Ok((outcomes, streaks))
}

/// New events change their people's analytics: the cached answers about
/// them go (in the same transaction, so no reader sees the event without
/// the invalidation). Aggregates over groups keep their TTL.
async fn forget_personal_analytics(
    mut conn: &AsyncPgConnection,
    accepted: &[&Candidate<'_>],
) -> QueryResult<()> {
    let mut people: Vec<Uuid> = accepted.iter().map(|c| c.event.user_id).collect();
    people.sort_unstable();
    people.dedup();
    diesel::delete(analytics_cache::table.filter(analytics_cache::user_id.eq_any(&people)))
        .execute(&mut conn)
        .await
        .map(|_| ())
}

/// An event that passed every check and waits for its receipt.
struct Candidate<'a> {
    index: usize,
    event: &'a ValidEvent,
    organization_id: Uuid,
    local_date: NaiveDate,
    /// The person's time zone.
    zone: chrono_tz::Tz,
    fingerprint: Vec<u8>,
}

/// The catalogue rows the batch mentions, as the caller may see them:
/// one round, every kind of row sent together.
async fn load_catalog(conn: &AsyncPgConnection, ids: &Mentioned) -> QueryResult<Catalog> {
    use crate::db::schema::courses;
    let (people, courses, lessons, skills, paths) = futures::join!(
        async {
            users::table
                .filter(users::id.eq_any(&ids.users))
                .select((users::id, users::organization_id, users::time_zone))
                .load::<(Uuid, Uuid, String)>(&mut { conn })
                .await
        },
        async {
            if ids.courses.is_empty() {
                return Ok(Vec::new());
            }
            courses::table
                .filter(courses::id.eq_any(&ids.courses))
                .select((courses::id, courses::organization_id))
                .load::<(Uuid, Uuid)>(&mut { conn })
                .await
        },
        async {
            if ids.lessons.is_empty() {
                return Ok(Vec::new());
            }
            lessons::table
                .filter(lessons::id.eq_any(&ids.lessons))
                .select((lessons::id, lessons::course_id))
                .load::<(Uuid, Uuid)>(&mut { conn })
                .await
        },
        async {
            if ids.skills.is_empty() {
                return Ok(Vec::new());
            }
            skills::table
                .filter(skills::id.eq_any(&ids.skills))
                .select((skills::id, skills::organization_id))
                .load::<(Uuid, Option<Uuid>)>(&mut { conn })
                .await
        },
        async {
            if ids.paths.is_empty() {
                return Ok(Vec::new());
            }
            learning_paths::table
                .filter(learning_paths::id.eq_any(&ids.paths))
                .select((learning_paths::id, learning_paths::organization_id))
                .load::<(Uuid, Uuid)>(&mut { conn })
                .await
        },
    );
    let mut catalog = Catalog::default();
    for (id, org, zone) in people? {
        // time_zones holds PostgreSQL's names; a zone chrono-tz lacks (newer
        // tzdata) falls back to UTC rather than refusing the person's events.
        let zone = zone.parse().unwrap_or_else(|_| {
            tracing::warn!(user_id = %id, zone = %zone, "time zone unknown to chrono-tz; using UTC");
            chrono_tz::UTC
        });
        catalog.users.insert(id, (org, zone));
    }
    catalog.courses = courses?.into_iter().collect();
    catalog.lessons = lessons?.into_iter().collect();
    catalog.skills = skills?.into_iter().collect();
    catalog.paths = paths?.into_iter().collect();
    Ok(catalog)
}

type ReceiptKey = (Uuid, String);

/// Inserts the receipts that do not exist yet, in key order (so concurrent
/// batches lock them in the same order); returns the keys inserted. A
/// concurrent transaction holding the same key makes this wait for its
/// outcome, so exactly one of them wins.
async fn insert_receipts(
    conn: &mut AsyncPgConnection,
    candidates: &[Candidate<'_>],
) -> QueryResult<HashSet<ReceiptKey>> {
    if candidates.is_empty() {
        return Ok(HashSet::new());
    }
    let mut rows: Vec<&Candidate<'_>> = candidates.iter().collect();
    rows.sort_by(|a, b| {
        (a.organization_id, &a.event.event_id).cmp(&(b.organization_id, &b.event.event_id))
    });
    let inserted: Vec<ReceiptRow> = prepared(
        diesel::sql_query(include_str!("sql/insert_receipts.sql"))
            .bind::<Array<SqlUuid>, _>(column(&rows, |c| c.organization_id))
            .bind::<Array<Text>, _>(column(&rows, |c| c.event.event_id.as_str()))
            .bind::<Array<Bytea>, _>(column(&rows, |c| c.fingerprint.as_slice()))
            .bind::<Array<Text>, _>(column(&rows, |c| c.event.kind().as_str()))
            .bind::<Array<SqlUuid>, _>(column(&rows, |c| c.event.user_id))
            .bind::<Array<Timestamptz>, _>(column(&rows, |c| c.event.occurred_at)),
    )
    .load(conn)
    .await?;
    Ok(inserted
        .into_iter()
        .map(|r| (r.organization_id, r.event_id))
        .collect())
}

#[derive(QueryableByName)]
struct ReceiptRow {
    #[diesel(sql_type = SqlUuid)]
    organization_id: Uuid,
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// Fingerprints of receipts stored before this batch, for the candidates
/// whose receipt already existed.
async fn stored_fingerprints(
    conn: &mut AsyncPgConnection,
    candidates: &[Candidate<'_>],
    fresh: &HashSet<ReceiptKey>,
) -> QueryResult<HashMap<ReceiptKey, Vec<u8>>> {
    let seen: Vec<&Candidate<'_>> = candidates
        .iter()
        .filter(|c| !fresh.contains(&(c.organization_id, c.event.event_id.clone())))
        .collect();
    if seen.is_empty() {
        return Ok(HashMap::new());
    }
    let orgs: Vec<Uuid> = seen.iter().map(|c| c.organization_id).collect();
    let ids: Vec<&str> = seen.iter().map(|c| c.event.event_id.as_str()).collect();
    let rows: Vec<(Uuid, String, Vec<u8>)> = event_receipts::table
        .filter(event_receipts::organization_id.eq_any(orgs))
        .filter(event_receipts::event_id.eq_any(ids))
        .select((
            event_receipts::organization_id,
            event_receipts::event_id,
            event_receipts::payload_hash,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(org, id, hash)| ((org, id), hash))
        .collect())
}

async fn insert_events(
    mut conn: &AsyncPgConnection,
    accepted: &[&Candidate<'_>],
) -> QueryResult<()> {
    let payloads: Vec<serde_json::Value> =
        accepted.iter().map(|c| c.event.payload.to_json()).collect();
    let kind = |c: &&Candidate<'_>| c.event.kind();
    prepared(
        diesel::sql_query(include_str!("sql/insert_events.sql"))
            .bind::<Array<SqlUuid>, _>(column(accepted, |c| c.organization_id))
            .bind::<Array<Text>, _>(column(accepted, |c| c.event.event_id.as_str()))
            .bind::<Array<SqlUuid>, _>(column(accepted, |c| c.event.user_id))
            .bind::<Array<Text>, _>(column(accepted, |c| kind(c).as_str()))
            .bind::<Array<Timestamptz>, _>(column(accepted, |c| c.event.occurred_at))
            .bind::<Array<Date>, _>(column(accepted, |c| c.local_date))
            .bind::<Array<Bool>, _>(column(accepted, |c| kind(c).is_learning_activity()))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(accepted, |c| c.event.payload.course_id()))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(accepted, |c| c.event.payload.lesson_id()))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(accepted, |c| c.event.payload.skill_id()))
            .bind::<Array<Jsonb>, _>(payloads),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

struct AssessmentRow<'a> {
    organization_id: Uuid,
    user_id: Uuid,
    course_id: Uuid,
    skill_id: Option<Uuid>,
    assessment_ref: &'a str,
    score: f64,
    graded_at: DateTime<Utc>,
    source_event_id: &'a str,
}

async fn insert_assessments(
    mut conn: &AsyncPgConnection,
    accepted: &[&Candidate<'_>],
) -> QueryResult<()> {
    let rows: Vec<AssessmentRow<'_>> = accepted
        .iter()
        .filter_map(|c| match &c.event.payload {
            Payload::AssessmentGraded {
                course_id,
                assessment_ref,
                skill_id,
                score,
            } => Some(AssessmentRow {
                organization_id: c.organization_id,
                user_id: c.event.user_id,
                course_id: *course_id,
                skill_id: *skill_id,
                assessment_ref,
                score: *score,
                graded_at: c.event.occurred_at,
                source_event_id: &c.event.event_id,
            }),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("sql/insert_assessments.sql"))
            .bind::<Array<SqlUuid>, _>(column(&rows, |r| r.organization_id))
            .bind::<Array<SqlUuid>, _>(column(&rows, |r| r.user_id))
            .bind::<Array<SqlUuid>, _>(column(&rows, |r| r.course_id))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(&rows, |r| r.skill_id))
            .bind::<Array<Text>, _>(column(&rows, |r| r.assessment_ref))
            .bind::<Array<Float8>, _>(column(&rows, |r| r.score))
            .bind::<Array<Timestamptz>, _>(column(&rows, |r| r.graded_at))
            .bind::<Array<Text>, _>(column(&rows, |r| r.source_event_id)),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Adds each day's delta to the stored day: counts add up, first/last
/// times take the earlier/later. Returns the learning days as merged (the
/// streak goes on from them without reading the person's history).
async fn upsert_days(mut conn: &AsyncPgConnection, derived: &Derived) -> QueryResult<LearningDays> {
    let days: Vec<_> = derived.days.iter().collect();
    if days.is_empty() {
        return Ok(LearningDays::new());
    }
    let merged: Vec<DayMerged> = prepared(
        diesel::sql_query(include_str!("sql/upsert_days.sql"))
            .bind::<Array<SqlUuid>, _>(column(&days, |(k, _)| k.0))
            .bind::<Array<Date>, _>(column(&days, |(k, _)| k.1))
            .bind::<Array<SqlUuid>, _>(column(&days, |(_, d)| d.organization_id))
            .bind::<Array<Timestamptz>, _>(column(&days, |(_, d)| d.first_activity_at))
            .bind::<Array<Timestamptz>, _>(column(&days, |(_, d)| d.last_activity_at))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&days, |(_, d)| d.first_learning_at))
            .bind::<Array<Int4>, _>(column(&days, |(_, d)| d.learning_activities))
            .bind::<Array<Int4>, _>(column(&days, |(_, d)| d.lessons_completed))
            .bind::<Array<Int4>, _>(column(&days, |(_, d)| d.logins))
            .bind::<Array<Int4>, _>(column(&days, |(_, d)| d.session_seconds)),
    )
    .load(&mut conn)
    .await?;
    Ok(gamification::learning_days(
        merged
            .into_iter()
            .map(|d| (d.user_id, d.local_date, d.first_learning_at))
            .collect(),
    ))
}

#[derive(QueryableByName)]
struct DayMerged {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Date)]
    local_date: NaiveDate,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first_learning_at: Option<DateTime<Utc>>,
}

/// Namespace of enrollment ids made by ingestion: the same person and
/// course always get the same id, whichever event created the row.
const ENROLLMENT_NAMESPACE: Uuid = Uuid::from_u128(0x5d1a_4a5e_e7e0_4e11_8000_0000_0000_0001);

/// Creates or advances enrollments: enrolled at the earliest event,
/// progress only upwards, completed at the earliest completion.
async fn upsert_enrollments(mut conn: &AsyncPgConnection, derived: &Derived) -> QueryResult<()> {
    let rows: Vec<_> = derived.enrollments.iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    let id = |(user_id, course_id): &(Uuid, Uuid)| {
        Uuid::new_v5(
            &ENROLLMENT_NAMESPACE,
            &[user_id.as_bytes().as_slice(), course_id.as_bytes()].concat(),
        )
    };
    prepared(
        diesel::sql_query(include_str!("sql/upsert_enrollments.sql"))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(k, _)| id(k)))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(k, _)| k.0))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(k, _)| k.1))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(_, d)| d.organization_id))
            .bind::<Array<Text>, _>(column(&rows, |(_, d)| {
                if d.completed_at.is_some() {
                    "completed"
                } else {
                    "active"
                }
            }))
            .bind::<Array<Float8>, _>(column(&rows, |(_, d)| d.progress_percent))
            .bind::<Array<Timestamptz>, _>(column(&rows, |(_, d)| d.first_at))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&rows, |(_, d)| d.last_progress_at))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&rows, |(_, d)| d.completed_at)),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Merges skill observations: the latest one sets the mastery (ties: the
/// higher), acquired and mastered keep their earliest time.
async fn upsert_skills(mut conn: &AsyncPgConnection, derived: &Derived) -> QueryResult<()> {
    let rows: Vec<_> = derived.skills.iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("sql/upsert_skills.sql"))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(k, _)| k.0))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(k, _)| k.1))
            .bind::<Array<SqlUuid>, _>(column(&rows, |(_, d)| d.organization_id))
            .bind::<Array<Float8>, _>(column(&rows, |(_, d)| d.mastery))
            .bind::<Array<Timestamptz>, _>(column(&rows, |(_, d)| d.first_at))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&rows, |(_, d)| d.mastered_at))
            .bind::<Array<Timestamptz>, _>(column(&rows, |(_, d)| d.latest_at)),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}
