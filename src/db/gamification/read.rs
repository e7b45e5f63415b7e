//! What the engine reads, one statement per function. Each takes a shared
//! connection and sends its statement on its first poll, so that the
//! functions of a round, joined, go out together in the order they are
//! joined (diesel-async pipelines them; PostgreSQL runs them in order).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::models::user_points::{PointsRow, columns as points_columns};
use crate::db::prepared::prepared;
use crate::db::schema::{
    achievements, daily_activity, enrollments, organizations, point_rules, point_transactions,
    streak_freeze_events, user_achievements, user_points, user_skills,
};
use crate::domain::gamification::achievements::Criterion;
use crate::domain::gamification::engine::{Achievement, LearningDays, RuleRow, Rules, Things};
use crate::domain::gamification::ledger::{Entry, Stored};
use crate::domain::gamification::streaks::{FreezeFact, FreezeKind};

/// The people's rows in id order (the order every writer locks them in),
/// locked when `lock`.
pub async fn points_rows(
    mut conn: &AsyncPgConnection,
    ids: &[Uuid],
    lock: bool,
) -> QueryResult<Vec<PointsRow>> {
    let rows = user_points::table
        .filter(user_points::user_id.eq_any(ids))
        .order(user_points::user_id)
        .select(points_columns!());
    if lock {
        rows.for_update().load(&mut conn).await
    } else {
        rows.load(&mut conn).await
    }
}

/// The active rules.
pub async fn rules(mut conn: &AsyncPgConnection) -> QueryResult<Rules> {
    let rows: Vec<(String, i32, String, Option<i32>)> = point_rules::table
        .filter(point_rules::active)
        .select((
            point_rules::rule_id,
            point_rules::version,
            point_rules::calculation,
            point_rules::points,
        ))
        .load(&mut conn)
        .await?;
    Ok(Rules::new(
        rows.into_iter()
            .map(|(rule_id, version, calculation, points)| RuleRow {
                rule_id,
                version,
                calculation,
                points,
            })
            .collect(),
    ))
}

/// Each person's completed courses with their (earliest) completion time.
pub async fn completions(mut conn: &AsyncPgConnection, users: &[Uuid]) -> QueryResult<Things> {
    let rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)> = enrollments::table
        .filter(enrollments::user_id.eq_any(users))
        .filter(enrollments::completed_at.is_not_null())
        .select((
            enrollments::user_id,
            enrollments::course_id,
            enrollments::completed_at,
        ))
        .load(&mut conn)
        .await?;
    Ok(things(rows))
}

/// Each person's skills acquired with the time mastery first reached the
/// mark.
pub async fn mastered(mut conn: &AsyncPgConnection, users: &[Uuid]) -> QueryResult<Things> {
    let rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)> = user_skills::table
        .filter(user_skills::user_id.eq_any(users))
        .filter(user_skills::mastered_at.is_not_null())
        .select((
            user_skills::user_id,
            user_skills::skill_id,
            user_skills::mastered_at,
        ))
        .load(&mut conn)
        .await?;
    Ok(things(rows))
}

fn things(rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)>) -> Things {
    let mut out = Things::new();
    for (user, thing, at) in rows {
        if let Some(at) = at {
            out.entry(user).or_default().push((thing, at));
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// Each person's active days (learning activity) with the day's first
/// learning time.
pub async fn history(mut conn: &AsyncPgConnection, users: &[Uuid]) -> QueryResult<LearningDays> {
    if users.is_empty() {
        return Ok(LearningDays::new());
    }
    // A day with a first learning time is a learning day (a CHECK makes
    // it one); the filter matches the partial index
    // `daily_activity_learning_days`, read without visiting the table.
    let rows: Vec<(Uuid, NaiveDate, Option<DateTime<Utc>>)> = daily_activity::table
        .filter(daily_activity::user_id.eq_any(users))
        .filter(daily_activity::first_learning_at.is_not_null())
        .select((
            daily_activity::user_id,
            daily_activity::local_date,
            daily_activity::first_learning_at,
        ))
        .load(&mut conn)
        .await?;
    Ok(learning_days(rows))
}

/// Day rows `(person, day, first learning time)` as [`LearningDays`]
/// (days without learning left out).
pub fn learning_days(rows: Vec<(Uuid, NaiveDate, Option<DateTime<Utc>>)>) -> LearningDays {
    let mut out = LearningDays::new();
    for (user, day, first) in rows {
        if let Some(first) = first {
            out.entry(user).or_default().insert(day, first);
        }
    }
    out
}

/// A ledger row as read.
#[derive(Queryable)]
struct LedgerRecord {
    id: Uuid,
    user_id: Uuid,
    rule_id: String,
    rule_version: i32,
    source_key: String,
    course_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    local_date: NaiveDate,
    awarded: i32,
    capped: i32,
}

macro_rules! ledger_columns {
    () => {
        (
            point_transactions::id,
            point_transactions::user_id,
            point_transactions::rule_id,
            point_transactions::rule_version,
            point_transactions::source_key,
            point_transactions::course_id,
            point_transactions::occurred_at,
            point_transactions::local_date,
            point_transactions::points_awarded,
            point_transactions::points_capped,
        )
    };
}

impl LedgerRecord {
    /// The row as an entry that, unchanged, writes nothing.
    fn into_entry(self) -> (Uuid, Entry) {
        let stored = Stored {
            id: self.id,
            occurred_at: self.occurred_at,
            local_date: self.local_date,
            awarded: self.awarded,
            capped: self.capped,
        };
        let entry = Entry {
            rule_id: self.rule_id,
            rule_version: self.rule_version,
            source_key: self.source_key,
            course_id: self.course_id,
            occurred_at: self.occurred_at,
            local_date: self.local_date,
            base: self.awarded + self.capped,
            awarded: self.awarded,
            capped: self.capped,
            trigger: None,
            stored: Some(stored),
            removed: false,
        };
        (self.user_id, entry)
    }
}

fn entries(rows: Vec<LedgerRecord>) -> Vec<(Uuid, Entry)> {
    rows.into_iter().map(LedgerRecord::into_entry).collect()
}

/// Once-per-thing awards whose row may lie on any day: the partial index
/// `point_transactions_user_thing` holds only these (literal patterns, so
/// that a generic plan can use it too).
const THING_ROWS: &str = "(point_transactions.source_key LIKE 'course:%' \
     OR point_transactions.source_key LIKE 'skill:%' \
     OR point_transactions.source_key LIKE 'streak_milestone:%')";

/// [`THING_ROWS`] as an expression of its own with a fixed query id, so
/// that a query filtering on it is prepared once per connection.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct ThingRows;

impl diesel::expression::Expression for ThingRows {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ThingRows {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(THING_ROWS);
        Ok(())
    }
}

impl diesel::AppearsOnTable<point_transactions::table> for ThingRows {}

impl diesel::expression::ValidGrouping<()> for ThingRows {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// The people's course, skill and milestone rows with one of `keys`.
pub async fn thing_rows(
    mut conn: &AsyncPgConnection,
    users: &[Uuid],
    keys: &[String],
) -> QueryResult<Vec<(Uuid, Entry)>> {
    // Not boxed, no `sql()` fragment: the statement stays prepared
    // (planning it over every partition cost more than running it).
    let rows = point_transactions::table
        .filter(point_transactions::user_id.eq_any(users))
        .filter(ThingRows)
        .filter(point_transactions::source_key.eq_any(keys))
        .select(ledger_columns!())
        .load(&mut conn)
        .await?;
    Ok(entries(rows))
}

/// Every ledger row of the people (a recompute).
pub async fn all_rows(
    mut conn: &AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<Vec<(Uuid, Entry)>> {
    let rows = point_transactions::table
        .filter(point_transactions::user_id.eq_any(users))
        .select(ledger_columns!())
        .load(&mut conn)
        .await?;
    Ok(entries(rows))
}

/// The ledger rows of these (person, local day) pairs.
pub async fn rows_on_days(
    mut conn: &AsyncPgConnection,
    pairs: &BTreeSet<(Uuid, NaiveDate)>,
) -> QueryResult<Vec<(Uuid, Entry)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let users: BTreeSet<Uuid> = pairs.iter().map(|(u, _)| *u).collect();
    let days: BTreeSet<NaiveDate> = pairs.iter().map(|(_, d)| *d).collect();
    // A local day lies within a day of its UTC date: bounding the
    // partition key lets the planner skip every other month.
    let first = days.iter().min().copied().unwrap_or_default() - chrono::Days::new(2);
    let last = days.iter().max().copied().unwrap_or_default() + chrono::Days::new(2);
    let rows: Vec<LedgerRecord> = point_transactions::table
        .filter(point_transactions::user_id.eq_any(users))
        .filter(point_transactions::local_date.eq_any(days))
        .filter(point_transactions::occurred_at.ge(first.and_time(NaiveTime::MIN).and_utc()))
        .filter(point_transactions::occurred_at.lt(last.and_time(NaiveTime::MIN).and_utc()))
        .select(ledger_columns!())
        .load(&mut conn)
        .await?;
    Ok(entries(rows)
        .into_iter()
        .filter(|(u, e)| pairs.contains(&(*u, e.local_date)))
        .collect())
}

/// The organizations' time zones.
pub async fn org_zones(
    mut conn: &AsyncPgConnection,
    orgs: &BTreeSet<Uuid>,
) -> QueryResult<HashMap<Uuid, Tz>> {
    let rows: Vec<(Uuid, String)> = organizations::table
        .filter(organizations::id.eq_any(orgs))
        .select((organizations::id, organizations::time_zone))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, zone)| (id, crate::domain::zone::zone(&zone)))
        .collect())
}

#[derive(QueryableByName)]
struct PersonCount {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Int4)]
    n: i32,
}

/// Domains whose every skill (the organization's and platform-wide ones)
/// the person has mastered, for `(person, organization)` pairs.
pub async fn domains_mastered(
    mut conn: &AsyncPgConnection,
    people: &[(Uuid, Uuid)],
) -> QueryResult<HashMap<Uuid, i32>> {
    if people.is_empty() {
        return Ok(HashMap::new());
    }
    let (users, orgs): (Vec<Uuid>, Vec<Uuid>) = people.iter().copied().unzip();
    // Raw SQL: a join against an unnest of (person, organization) pairs
    // with a grouped HAVING is beyond the query builder.
    let rows: Vec<PersonCount> = prepared(
        diesel::sql_query(include_str!("../sql/domains_mastered.sql"))
            .bind::<Array<SqlUuid>, _>(&users)
            .bind::<Array<SqlUuid>, _>(&orgs),
    )
    .load(&mut conn)
    .await?;
    let mut out: HashMap<Uuid, i32> = users.iter().map(|u| (*u, 0)).collect();
    out.extend(rows.into_iter().map(|r| (r.user_id, r.n)));
    Ok(out)
}

/// Lessons completed, recounted from daily activity.
pub async fn lessons_completed(
    mut conn: &AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<HashMap<Uuid, i32>> {
    use diesel::dsl::sum;
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Option<i64>)> = daily_activity::table
        .filter(daily_activity::user_id.eq_any(users))
        .group_by(daily_activity::user_id)
        .select((
            daily_activity::user_id,
            sum(daily_activity::lessons_completed),
        ))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(u, n)| (u, n.unwrap_or(0) as i32))
        .collect())
}

/// The people's stored freeze facts.
pub async fn freezes(
    mut conn: &AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<Vec<(Uuid, FreezeFact)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, String, NaiveDate, String)> = streak_freeze_events::table
        .filter(streak_freeze_events::user_id.eq_any(users))
        .select((
            streak_freeze_events::user_id,
            streak_freeze_events::kind,
            streak_freeze_events::local_date,
            streak_freeze_events::source_key,
        ))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, kind, local_date, source_key)| {
            let kind = match kind.as_str() {
                "earned" => FreezeKind::Earned,
                "spent" => FreezeKind::Spent,
                "lost" => FreezeKind::Lost,
                _ => return None,
            };
            let fact = FreezeFact {
                kind,
                local_date,
                source_key,
            };
            Some((u, fact))
        })
        .collect())
}

/// The active achievements the organizations' people may earn (theirs and
/// platform-wide ones); definitions that do not parse are skipped, loudly.
pub async fn achievements(
    mut conn: &AsyncPgConnection,
    orgs: &BTreeSet<Uuid>,
) -> QueryResult<Vec<Achievement>> {
    let defs: Vec<(String, Option<Uuid>, serde_json::Value)> = achievements::table
        .filter(achievements::active)
        .filter(
            achievements::organization_id
                .is_null()
                .or(achievements::organization_id.eq_any(orgs)),
        )
        .select((
            achievements::id,
            achievements::organization_id,
            achievements::criteria,
        ))
        .load(&mut conn)
        .await?;
    Ok(defs
        .into_iter()
        .filter_map(|(id, organization_id, json)| match Criterion::parse(&json) {
            Ok(criterion) => Some(Achievement {
                id,
                organization_id,
                criterion,
            }),
            Err(why) => {
                tracing::warn!(achievement.id = %id, reason = %why, "achievement criteria unreadable; skipped");
                None
            }
        })
        .collect())
}

/// `(person, achievement)` already earned.
pub async fn held(
    mut conn: &AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<HashSet<(Uuid, String)>> {
    Ok(user_achievements::table
        .filter(user_achievements::user_id.eq_any(users))
        .select((
            user_achievements::user_id,
            user_achievements::achievement_id,
        ))
        .load::<(Uuid, String)>(&mut conn)
        .await?
        .into_iter()
        .collect())
}
