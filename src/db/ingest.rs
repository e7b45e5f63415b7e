//! Applies a batch of validated events inside the caller's transaction:
//! receipts first (the idempotency key), then the raw log and everything
//! derived from it, set-based (a handful of statements per batch, not per
//! event). Because the receipt and the effects commit together, a retry
//! after any failure either finds the receipt (duplicate) or applies from
//! scratch: never twice, never half.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::gamification::{self, BatchEvent, Paid};
use crate::db::models::learning_event::{NewEventReceipt, NewLearningEvent};
use crate::db::schema::{
    analytics_cache, assessments, daily_activity, enrollments, event_receipts, learning_events,
    learning_paths, lessons, skills, user_skills, users,
};
use crate::domain::FieldViolation;
use crate::domain::derive::{Derived, Placed};
use crate::domain::events::{Payload, ValidEvent};
use crate::domain::references::{Catalog, Mentioned, place};

diesel::define_sql_function! {
    /// SQL LEAST (NULLs ignored).
    #[sql_name = "LEAST"]
    fn least<T: diesel::sql_types::SingleValue>(a: T, b: T) -> T;
}
diesel::define_sql_function! {
    /// SQL GREATEST (NULLs ignored).
    #[sql_name = "GREATEST"]
    fn greatest<T: diesel::sql_types::SingleValue>(a: T, b: T) -> T;
}

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
        insert_events(conn, &accepted).await?;
        insert_assessments(conn, &accepted).await?;
        let derived = Derived::from_events(accepted.iter().map(|c| Placed {
            event: c.event,
            organization_id: c.organization_id,
            local_date: c.local_date,
        }));
        let days = upsert_days(conn, &derived).await?;
        upsert_enrollments(conn, &derived).await?;
        upsert_skills(conn, &derived).await?;
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
        forget_personal_analytics(conn, &accepted).await?;
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
    conn: &mut AsyncPgConnection,
    accepted: &[&Candidate<'_>],
) -> QueryResult<()> {
    let mut people: Vec<Uuid> = accepted.iter().map(|c| c.event.user_id).collect();
    people.sort_unstable();
    people.dedup();
    diesel::delete(analytics_cache::table.filter(analytics_cache::user_id.eq_any(&people)))
        .execute(conn)
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

/// The catalogue rows the batch mentions, as the caller may see them.
async fn load_catalog(conn: &mut AsyncPgConnection, ids: &Mentioned) -> QueryResult<Catalog> {
    let mut catalog = Catalog::default();
    let people: Vec<(Uuid, Uuid, String)> = users::table
        .filter(users::id.eq_any(&ids.users))
        .select((users::id, users::organization_id, users::time_zone))
        .load(conn)
        .await?;
    for (id, org, zone) in people {
        // time_zones holds PostgreSQL's names; a zone chrono-tz lacks (newer
        // tzdata) falls back to UTC rather than refusing the person's events.
        let zone = zone.parse().unwrap_or_else(|_| {
            tracing::warn!(user_id = %id, zone = %zone, "time zone unknown to chrono-tz; using UTC");
            chrono_tz::UTC
        });
        catalog.users.insert(id, (org, zone));
    }
    if !ids.courses.is_empty() {
        use crate::db::schema::courses;
        catalog.courses = courses::table
            .filter(courses::id.eq_any(&ids.courses))
            .select((courses::id, courses::organization_id))
            .load::<(Uuid, Uuid)>(conn)
            .await?
            .into_iter()
            .collect();
    }
    if !ids.lessons.is_empty() {
        catalog.lessons = lessons::table
            .filter(lessons::id.eq_any(&ids.lessons))
            .select((lessons::id, lessons::course_id))
            .load::<(Uuid, Uuid)>(conn)
            .await?
            .into_iter()
            .collect();
    }
    if !ids.skills.is_empty() {
        catalog.skills = skills::table
            .filter(skills::id.eq_any(&ids.skills))
            .select((skills::id, skills::organization_id))
            .load::<(Uuid, Option<Uuid>)>(conn)
            .await?
            .into_iter()
            .collect();
    }
    if !ids.paths.is_empty() {
        catalog.paths = learning_paths::table
            .filter(learning_paths::id.eq_any(&ids.paths))
            .select((learning_paths::id, learning_paths::organization_id))
            .load::<(Uuid, Uuid)>(conn)
            .await?
            .into_iter()
            .collect();
    }
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
    let mut rows: Vec<NewEventReceipt<'_>> = candidates
        .iter()
        .map(|c| NewEventReceipt {
            organization_id: c.organization_id,
            event_id: &c.event.event_id,
            payload_hash: c.fingerprint.clone(),
            kind: c.event.kind().as_str(),
            user_id: Some(c.event.user_id),
            occurred_at: c.event.occurred_at,
        })
        .collect();
    rows.sort_by(|a, b| (a.organization_id, a.event_id).cmp(&(b.organization_id, b.event_id)));
    let inserted: Vec<(Uuid, String)> = diesel::insert_into(event_receipts::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .returning((event_receipts::organization_id, event_receipts::event_id))
        .get_results(conn)
        .await?;
    Ok(inserted.into_iter().collect())
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
    conn: &mut AsyncPgConnection,
    accepted: &[&Candidate<'_>],
) -> QueryResult<()> {
    let payloads: Vec<serde_json::Value> =
        accepted.iter().map(|c| c.event.payload.to_json()).collect();
    let rows: Vec<NewLearningEvent<'_>> = accepted
        .iter()
        .zip(&payloads)
        .map(|(c, payload)| {
            let kind = c.event.kind();
            NewLearningEvent {
                organization_id: c.organization_id,
                event_id: &c.event.event_id,
                user_id: c.event.user_id,
                kind: kind.as_str(),
                occurred_at: c.event.occurred_at,
                local_date: c.local_date,
                is_learning_activity: kind.is_learning_activity(),
                course_id: c.event.payload.course_id(),
                lesson_id: c.event.payload.lesson_id(),
                skill_id: c.event.payload.skill_id(),
                payload,
            }
        })
        .collect();
    diesel::insert_into(learning_events::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = assessments)]
struct AssessmentRow<'a> {
    organization_id: Uuid,
    user_id: Uuid,
    course_id: Option<Uuid>,
    skill_id: Option<Uuid>,
    assessment_ref: &'a str,
    score: f64,
    graded_at: DateTime<Utc>,
    source_event_id: &'a str,
}

async fn insert_assessments(
    conn: &mut AsyncPgConnection,
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
                course_id: Some(*course_id),
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
    diesel::insert_into(assessments::table)
        .values(&rows)
        .on_conflict((assessments::organization_id, assessments::source_event_id))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = daily_activity)]
struct DayRow {
    user_id: Uuid,
    local_date: NaiveDate,
    organization_id: Uuid,
    first_activity_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    first_learning_at: Option<DateTime<Utc>>,
    learning_activities: i32,
    lessons_completed: i32,
    logins: i32,
    session_seconds: i32,
}

/// Adds each day's delta to the stored day: counts add up, first/last
/// times take the earlier/later. Returns the learning days as merged (the
/// streak goes on from them without reading the person's history).
async fn upsert_days(
    conn: &mut AsyncPgConnection,
    derived: &Derived,
) -> QueryResult<gamification::LearningDays> {
    use crate::db::schema::daily_activity::dsl as d;
    let rows: Vec<DayRow> = derived
        .days
        .iter()
        .map(|(&(user_id, local_date), day)| DayRow {
            user_id,
            local_date,
            organization_id: day.organization_id,
            first_activity_at: day.first_activity_at,
            last_activity_at: day.last_activity_at,
            first_learning_at: day.first_learning_at,
            learning_activities: day.learning_activities,
            lessons_completed: day.lessons_completed,
            logins: day.logins,
            session_seconds: day.session_seconds,
        })
        .collect();
    if rows.is_empty() {
        return Ok(gamification::LearningDays::new());
    }
    diesel::insert_into(daily_activity::table)
        .values(&rows)
        .on_conflict((d::user_id, d::local_date))
        .do_update()
        .set((
            d::first_activity_at.eq(least(d::first_activity_at, excluded(d::first_activity_at))),
            d::last_activity_at.eq(greatest(d::last_activity_at, excluded(d::last_activity_at))),
            d::first_learning_at.eq(least(d::first_learning_at, excluded(d::first_learning_at))),
            d::learning_activities.eq(d::learning_activities + excluded(d::learning_activities)),
            d::lessons_completed.eq(d::lessons_completed + excluded(d::lessons_completed)),
            d::logins.eq(d::logins + excluded(d::logins)),
            d::session_seconds.eq(d::session_seconds + excluded(d::session_seconds)),
        ))
        .returning((d::user_id, d::local_date, d::first_learning_at))
        .get_results(conn)
        .await
        .map(gamification::learning_days)
}

#[derive(Insertable)]
#[diesel(table_name = enrollments)]
struct EnrollmentRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Uuid,
    organization_id: Uuid,
    status: &'static str,
    progress_percent: f64,
    enrolled_at: DateTime<Utc>,
    last_progress_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

/// Namespace of enrollment ids made by ingestion: the same person and
/// course always get the same id, whichever event created the row.
const ENROLLMENT_NAMESPACE: Uuid = Uuid::from_u128(0x5d1a_4a5e_e7e0_4e11_8000_0000_0000_0001);

/// Creates or advances enrollments: enrolled at the earliest event,
/// progress only upwards, completed at the earliest completion.
async fn upsert_enrollments(conn: &mut AsyncPgConnection, derived: &Derived) -> QueryResult<()> {
    use crate::db::schema::enrollments::dsl as e;
    use diesel::dsl::case_when;
    if derived.enrollments.is_empty() {
        return Ok(());
    }
    let rows: Vec<EnrollmentRow> = derived
        .enrollments
        .iter()
        .map(|(&(user_id, course_id), delta)| EnrollmentRow {
            id: Uuid::new_v5(
                &ENROLLMENT_NAMESPACE,
                &[user_id.as_bytes().as_slice(), course_id.as_bytes()].concat(),
            ),
            user_id,
            course_id,
            organization_id: delta.organization_id,
            status: if delta.completed_at.is_some() {
                "completed"
            } else {
                "active"
            },
            progress_percent: delta.progress_percent,
            enrolled_at: delta.first_at,
            last_progress_at: delta.last_progress_at,
            completed_at: delta.completed_at,
        })
        .collect();
    diesel::insert_into(enrollments::table)
        .values(&rows)
        .on_conflict((e::user_id, e::course_id))
        .do_update()
        .set((
            e::enrolled_at.eq(least(e::enrolled_at, excluded(e::enrolled_at))),
            e::progress_percent.eq(greatest(e::progress_percent, excluded(e::progress_percent))),
            e::last_progress_at.eq(greatest(e::last_progress_at, excluded(e::last_progress_at))),
            e::completed_at.eq(least(e::completed_at, excluded(e::completed_at))),
            e::status.eq(case_when(
                excluded(e::completed_at).is_not_null(),
                "completed".into_sql::<Text>(),
            )
            .otherwise(e::status)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = user_skills)]
struct SkillRow {
    user_id: Uuid,
    skill_id: Uuid,
    organization_id: Uuid,
    mastery_level: f64,
    acquired_at: DateTime<Utc>,
    mastered_at: Option<DateTime<Utc>>,
    last_assessed_at: DateTime<Utc>,
}

/// Merges skill observations: the latest one sets the mastery (ties: the
/// higher), acquired and mastered keep their earliest time.
async fn upsert_skills(conn: &mut AsyncPgConnection, derived: &Derived) -> QueryResult<()> {
    use crate::db::schema::user_skills::dsl as s;
    use diesel::dsl::case_when;
    if derived.skills.is_empty() {
        return Ok(());
    }
    let rows: Vec<SkillRow> = derived
        .skills
        .iter()
        .map(|(&(user_id, skill_id), delta)| SkillRow {
            user_id,
            skill_id,
            organization_id: delta.organization_id,
            mastery_level: delta.mastery,
            acquired_at: delta.first_at,
            mastered_at: delta.mastered_at,
            last_assessed_at: delta.latest_at,
        })
        .collect();
    let newer = excluded(s::last_assessed_at)
        .gt(s::last_assessed_at)
        .or(excluded(s::last_assessed_at)
            .eq(s::last_assessed_at)
            .and(excluded(s::mastery_level).gt(s::mastery_level)));
    diesel::insert_into(user_skills::table)
        .values(&rows)
        .on_conflict((s::user_id, s::skill_id))
        .do_update()
        .set((
            s::mastery_level
                .eq(case_when(newer, excluded(s::mastery_level)).otherwise(s::mastery_level)),
            s::last_assessed_at.eq(greatest(s::last_assessed_at, excluded(s::last_assessed_at))),
            s::acquired_at.eq(least(s::acquired_at, excluded(s::acquired_at))),
            s::mastered_at.eq(least(s::mastered_at, excluded(s::mastered_at))),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
