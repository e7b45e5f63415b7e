//! Writes a [`Plan`], set-wise: one statement per kind of row, all sent
//! together (joined in the order they must run: the ledger before the
//! sums read from it). Each function sends its statement on its first
//! poll (see `read`).

use diesel::prelude::*;
use diesel::sql_types::{
    Array, Date, Int2, Int4, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::prepared::{column, prepared};
use crate::db::schema::{point_transactions, streak_freeze_events, user_achievements};
use crate::domain::gamification::engine::{DayTotal, Earned, PeriodBounds, Plan};
use crate::domain::gamification::ledger::{Entry, Stored};
use crate::domain::gamification::standing::PointsRow;
use crate::domain::gamification::streaks::FreezeFact;

/// Writes everything the plan changed.
pub async fn apply(conn: &AsyncPgConnection, plan: &Plan) -> QueryResult<()> {
    let changed: Vec<&(Uuid, Entry)> = plan.entries.iter().filter(|(_, e)| e.changed()).collect();
    let removed: Vec<Stored> = changed
        .iter()
        .filter(|(_, e)| e.removed)
        .filter_map(|(_, e)| e.stored)
        .collect();
    let inserts: Vec<&(Uuid, Entry)> = changed
        .iter()
        .filter(|(_, e)| e.stored.is_none() && !e.removed)
        .copied()
        .collect();
    let updates: Vec<(&Stored, &Entry)> = changed
        .iter()
        .filter(|(_, e)| !e.removed)
        .filter_map(|(_, e)| e.stored.as_ref().map(|s| (s, e)))
        .collect();
    let points: Vec<&PointsRow> = plan
        .after
        .values()
        .filter(|r| plan.existing.contains(&r.user_id) || !r.is_empty_state())
        .collect();
    // Rows a recompute creates are inserted empty first (a first event
    // arriving meanwhile may have created one: the computed state wins, as
    // for stored rows); then every row is written the same way.
    let new: Vec<(Uuid, Uuid)> = points
        .iter()
        .filter(|r| !plan.existing.contains(&r.user_id))
        .map(|r| (r.user_id, r.organization_id))
        .collect();
    let org_of = |u: &Uuid| plan.organizations.get(u).copied().unwrap_or_default();
    let (a, b, c, d, e, f, g, h, i, j, k) = futures::join!(
        delete_ledger(conn, &removed),
        insert_ledger(conn, &inserts, org_of),
        update_ledger(conn, &updates),
        update_days(conn, &plan.days),
        delete_freezes(conn, &plan.freezes_remove),
        insert_freezes(conn, &plan.freezes_add, org_of),
        insert_achievements(conn, &plan.earned, org_of),
        insert_empty_points(conn, &new),
        update_points(conn, &points),
        // After the ledger and the rows are written: they read both.
        update_periods(
            conn,
            if points.is_empty() {
                &[]
            } else {
                &plan.period_bounds
            }
        ),
        update_latest(
            conn,
            if points.is_empty() {
                &[]
            } else {
                &plan.latest_from_ledger
            }
        ),
    );
    // The first failure is the cause; the later statements only found the
    // transaction aborted.
    for result in [a, b, c, d, e, f, g, h, i, j, k] {
        result?;
    }
    Ok(())
}

async fn delete_ledger(mut conn: &AsyncPgConnection, removed: &[Stored]) -> QueryResult<()> {
    if removed.is_empty() {
        return Ok(());
    }
    // The stored times name the partitions, pruned when planning.
    diesel::delete(
        point_transactions::table
            .filter(point_transactions::id.eq_any(column(removed, |s| s.id)))
            .filter(point_transactions::occurred_at.eq_any(column(removed, |s| s.occurred_at))),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// New ledger rows, as one fixed-text statement over arrays (prepared
/// once per connection, whatever their number).
async fn insert_ledger(
    mut conn: &AsyncPgConnection,
    rows: &[&(Uuid, Entry)],
    org_of: impl Fn(&Uuid) -> Uuid,
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/insert_ledger.sql"))
            .bind::<Array<SqlUuid>, _>(column(rows, |(u, _)| org_of(u)))
            .bind::<Array<SqlUuid>, _>(column(rows, |(u, _)| *u))
            .bind::<Array<Text>, _>(column(rows, |(_, e)| e.rule_id.as_str()))
            .bind::<Array<Int4>, _>(column(rows, |(_, e)| e.rule_version))
            .bind::<Array<Text>, _>(column(rows, |(_, e)| e.source_key.as_str()))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(rows, |(_, e)| e.course_id))
            .bind::<Array<Timestamptz>, _>(column(rows, |(_, e)| e.occurred_at))
            .bind::<Array<Date>, _>(column(rows, |(_, e)| e.local_date))
            .bind::<Array<Int4>, _>(column(rows, |(_, e)| e.awarded))
            .bind::<Array<Int4>, _>(column(rows, |(_, e)| e.capped))
            .bind::<Array<Jsonb>, _>(column(rows, |(_, e)| {
                e.trigger.as_ref().map_or_else(
                    || serde_json::json!({}),
                    |t| serde_json::json!({ "event_id": t }),
                )
            })),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// Moves and re-splits stored rows (a moved row changes partition).
async fn update_ledger(
    mut conn: &AsyncPgConnection,
    rows: &[(&Stored, &Entry)],
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/update_ledger.sql"))
            .bind::<Array<SqlUuid>, _>(column(rows, |(s, _)| s.id))
            .bind::<Array<Timestamptz>, _>(column(rows, |(s, _)| s.occurred_at))
            .bind::<Array<Timestamptz>, _>(column(rows, |(_, e)| e.occurred_at))
            .bind::<Array<Date>, _>(column(rows, |(_, e)| e.local_date))
            .bind::<Array<Int4>, _>(column(rows, |(_, e)| e.awarded))
            .bind::<Array<Int4>, _>(column(rows, |(_, e)| e.capped)),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// The touched days' totals after the cap.
async fn update_days(mut conn: &AsyncPgConnection, days: &[DayTotal]) -> QueryResult<()> {
    if days.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/update_day_points.sql"))
            .bind::<Array<SqlUuid>, _>(column(days, |d| d.user_id))
            .bind::<Array<Date>, _>(column(days, |d| d.local_date))
            .bind::<Array<Int4>, _>(column(days, |d| d.awarded))
            .bind::<Array<Int4>, _>(column(days, |d| d.capped)),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

async fn delete_freezes(
    mut conn: &AsyncPgConnection,
    facts: &[(Uuid, FreezeFact)],
) -> QueryResult<()> {
    if facts.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/delete_freezes.sql"))
            .bind::<Array<SqlUuid>, _>(column(facts, |(u, _)| *u))
            .bind::<Array<Text>, _>(column(facts, |(_, f)| f.kind.as_str()))
            .bind::<Array<Date>, _>(column(facts, |(_, f)| f.local_date))
            .bind::<Array<Text>, _>(column(facts, |(_, f)| f.source_key.as_str())),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

async fn insert_freezes(
    mut conn: &AsyncPgConnection,
    facts: &[(Uuid, FreezeFact)],
    org_of: impl Fn(&Uuid) -> Uuid,
) -> QueryResult<()> {
    if facts.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = facts
        .iter()
        .map(|(u, f)| {
            (
                streak_freeze_events::user_id.eq(*u),
                streak_freeze_events::organization_id.eq(org_of(u)),
                streak_freeze_events::kind.eq(f.kind.as_str()),
                streak_freeze_events::local_date.eq(f.local_date),
                streak_freeze_events::source_key.eq(&f.source_key),
            )
        })
        .collect();
    diesel::insert_into(streak_freeze_events::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await
        .map(|_| ())
}

async fn insert_achievements(
    mut conn: &AsyncPgConnection,
    earned: &[Earned],
    org_of: impl Fn(&Uuid) -> Uuid,
) -> QueryResult<()> {
    if earned.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = earned
        .iter()
        .map(|e| {
            (
                user_achievements::user_id.eq(e.user_id),
                user_achievements::achievement_id.eq(&e.achievement_id),
                user_achievements::organization_id.eq(org_of(&e.user_id)),
                user_achievements::earned_at.eq(e.earned_at),
                user_achievements::source_key.eq(&e.source_key),
            )
        })
        .collect();
    diesel::insert_into(user_achievements::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await
        .map(|_| ())
}

/// Creates the `user_points` rows of `(person, organization)` that do not
/// exist yet, in the empty state (a concurrent writer may create one too),
/// in person order, like every writer locks them.
pub async fn insert_empty_points(
    mut conn: &AsyncPgConnection,
    people: &[(Uuid, Uuid)],
) -> QueryResult<()> {
    if people.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/insert_empty_points.sql"))
            .bind::<Array<SqlUuid>, _>(column(people, |p| p.0))
            .bind::<Array<SqlUuid>, _>(column(people, |p| p.1)),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// Writes stored `user_points` rows as one UPDATE ... FROM unnest(...).
async fn update_points(mut conn: &AsyncPgConnection, rows: &[&PointsRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/update_points.sql"))
            .bind::<Array<SqlUuid>, _>(column(rows, |r| r.user_id))
            .bind::<Array<Int8>, _>(column(rows, |r| r.total_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.total_reached_at))
            .bind::<Array<Int8>, _>(column(rows, |r| r.capped_points))
            .bind::<Array<Int4>, _>(column(rows, |r| r.level))
            .bind::<Array<Int4>, _>(column(rows, |r| r.current_streak))
            .bind::<Array<Int4>, _>(column(rows, |r| r.longest_streak))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.last_active_date))
            .bind::<Array<Int2>, _>(column(rows, |r| r.freezes_held))
            .bind::<Array<Int4>, _>(column(rows, |r| r.courses_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.lessons_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.skills_acquired))
            .bind::<Array<Int4>, _>(column(rows, |r| r.paths_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.domains_mastered))
            .bind::<Array<Int4>, _>(column(rows, |r| r.peers_helped))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.week_start))
            .bind::<Array<Int8>, _>(column(rows, |r| r.week_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.week_reached_at))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.month_start))
            .bind::<Array<Int8>, _>(column(rows, |r| r.month_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.month_reached_at))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.streak_zone.clone())),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// Sums the current week and month from the ledger as now written, for
/// the people the run could not move them for (per-person bounds over an
/// unnest, beyond the query builder).
async fn update_periods(mut conn: &AsyncPgConnection, bounds: &[PeriodBounds]) -> QueryResult<()> {
    let Some(earliest) = bounds.iter().map(|b| b.week_from.min(b.month_from)).min() else {
        return Ok(());
    };
    prepared(
        diesel::sql_query(include_str!("../sql/update_period_points.sql"))
            .bind::<Array<SqlUuid>, _>(column(bounds, |b| b.user_id))
            .bind::<Array<Timestamptz>, _>(column(bounds, |b| b.week_from))
            .bind::<Array<Timestamptz>, _>(column(bounds, |b| b.month_from))
            .bind::<Timestamptz, _>(earliest),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}

/// Reads the latest paying award back from the ledger, for the people
/// whose latest the run changed.
async fn update_latest(mut conn: &AsyncPgConnection, users: &[Uuid]) -> QueryResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(include_str!("../sql/update_latest_award.sql"))
            .bind::<Array<SqlUuid>, _>(users),
    )
    .execute(&mut conn)
    .await
    .map(|_| ())
}
