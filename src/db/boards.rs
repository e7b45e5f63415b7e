//! Leaderboard reads: a live board's ranked people in board order from
//! `user_points` (all-time, current week and month, kept by every ingestion
//! transaction) through the tenant views, people's own rows, privacy and
//! names, course boards from the ledger, and what sets a board's period (a
//! course's organization, an organization's time zone). Nothing here ranks:
//! ranks and percentiles are worked out in memory from a whole board read in
//! board order (`domain::gamification::boards`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::views::{tenant_board_names, tenant_board_points as tbp};
use crate::domain::gamification::boards::Standing;

/// The `tenant_board_points` columns of [`OwnRow`], in its order.
macro_rules! own_columns {
    () => {
        (
            tbp::on_board,
            tbp::total_points,
            tbp::total_reached_at,
            tbp::week_start,
            tbp::week_points,
            tbp::month_start,
            tbp::month_points,
        )
    };
}

/// Which points a board counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// The week starting on this Monday (organization's time zone).
    Week(NaiveDate),
    /// The month starting on this day.
    Month(NaiveDate),
    AllTime,
}

/// Whose board: one organization, or every organization (platform), in
/// which case each organization's own current week or month counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    Organization(Uuid),
    Platform,
}

type Points = Box<dyn BoxableExpression<tbp::table, Pg, SqlType = BigInt>>;
type Reached = Box<dyn BoxableExpression<tbp::table, Pg, SqlType = Nullable<Timestamptz>>>;
type Condition = Box<dyn BoxableExpression<tbp::table, Pg, SqlType = Bool>>;

fn points(period: Period) -> Points {
    match period {
        Period::Week(_) => Box::new(tbp::week_points),
        Period::Month(_) => Box::new(tbp::month_points),
        Period::AllTime => Box::new(tbp::total_points),
    }
}

fn reached(period: Period) -> Reached {
    match period {
        Period::Week(_) => Box::new(tbp::week_reached_at),
        Period::Month(_) => Box::new(tbp::month_reached_at),
        Period::AllTime => Box::new(tbp::total_reached_at),
    }
}

/// Ranked people of the board: on the board (active, not hidden), in the
/// reach, with points in the period.
fn ranked(reach: Reach, period: Period) -> Condition {
    let scope: Condition = match reach {
        Reach::Organization(org) => Box::new(tbp::organization_id.eq(org)),
        Reach::Platform => Box::new(tbp::on_board),
    };
    // Raw SQL fragment: the current period of each row's own organization.
    let current = |unit: &str, column: &str| -> Condition {
        Box::new(sql::<Bool>(&format!(
            "tenant_board_points.{column} = (SELECT date_trunc('{unit}', now() AT TIME ZONE o.time_zone)::date \
               FROM organizations o WHERE o.id = tenant_board_points.organization_id)"
        )))
    };
    let in_period: Condition = match (period, reach) {
        (Period::Week(w), Reach::Organization(_)) => {
            Box::new(tbp::week_start.eq(w).assume_not_null())
        }
        (Period::Month(m), Reach::Organization(_)) => {
            Box::new(tbp::month_start.eq(m).assume_not_null())
        }
        (Period::Week(_), Reach::Platform) => current("week", "week_start"),
        (Period::Month(_), Reach::Platform) => current("month", "month_start"),
        (Period::AllTime, _) => Box::new(tbp::on_board),
    };
    Box::new(
        tbp::on_board
            .and(scope)
            .and(in_period)
            .and(points(period).gt(0)),
    )
}

/// Every ranked person of the board, in board order.
pub async fn ranked_all(
    conn: &mut AsyncPgConnection,
    reach: Reach,
    period: Period,
) -> QueryResult<Vec<Standing>> {
    let rows: Vec<(Uuid, i64, Option<DateTime<Utc>>)> = tbp::table
        .filter(ranked(reach, period))
        .select((tbp::user_id, points(period), reached(period)))
        .order((
            points(period).desc(),
            reached(period).asc(),
            tbp::user_id.asc(),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, points, reached_at)| Standing {
            user_id,
            points,
            reached_at,
        })
        .collect())
}

/// Own rows of several people at once.
pub async fn own_rows(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<Vec<(Uuid, OwnRow)>> {
    let rows: Vec<(Uuid, OwnColumns)> = tbp::table
        .filter(tbp::user_id.eq_any(users))
        .select((tbp::user_id, own_columns!()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(u, r)| (u, own_from(r))).collect())
}

fn own_from(r: OwnColumns) -> OwnRow {
    OwnRow {
        on_board: r.0,
        total_points: r.1,
        total_reached_at: r.2,
        week_start: r.3,
        week_points: r.4,
        month_start: r.5,
        month_points: r.6,
    }
}

/// A person's own position data: on the board or not, and the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnRow {
    pub on_board: bool,
    pub total_points: i64,
    pub total_reached_at: Option<DateTime<Utc>>,
    pub week_start: Option<NaiveDate>,
    pub week_points: i64,
    pub month_start: Option<NaiveDate>,
    pub month_points: i64,
}

impl OwnRow {
    /// The points this row holds for `period` (0 for a stale week/month).
    pub fn points(&self, period: Period) -> i64 {
        match period {
            Period::Week(w) if self.week_start == Some(w) => self.week_points,
            Period::Month(m) if self.month_start == Some(m) => self.month_points,
            Period::AllTime => self.total_points,
            _ => 0,
        }
    }
}

type OwnColumns = (
    bool,
    i64,
    Option<DateTime<Utc>>,
    Option<NaiveDate>,
    i64,
    Option<NaiveDate>,
    i64,
);

pub async fn own_row(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<OwnRow>> {
    let row: Option<OwnColumns> = tbp::table
        .find(user)
        .select(own_columns!())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(own_from))
}

/// A board's privacy and display name per person.
pub type Names = std::collections::HashMap<Uuid, (String, Option<String>)>;

/// Privacy and (public people only) names of `users`.
pub async fn names(conn: &mut AsyncPgConnection, users: &[Uuid]) -> QueryResult<Names> {
    let rows: Vec<(Uuid, String, Option<String>)> = tenant_board_names::table
        .filter(tenant_board_names::user_id.eq_any(users))
        .select((
            tenant_board_names::user_id,
            tenant_board_names::leaderboard_privacy,
            tenant_board_names::display_name,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user, privacy, name)| (user, (privacy, name)))
        .collect())
}

#[derive(QueryableByName)]
struct CourseRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = BigInt)]
    points: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    reached_at: Option<DateTime<Utc>>,
}

/// Everyone with points from `course` since `from` (None: all time), with
/// whether they are on boards at all.
pub async fn course_board(
    conn: &mut AsyncPgConnection,
    course: Uuid,
    from: Option<DateTime<Utc>>,
) -> QueryResult<Vec<(Standing, bool)>> {
    // Raw SQL: a set-returning function (owner's rights, tenant-checked).
    let rows: Vec<CourseRow> = diesel::sql_query("SELECT * FROM course_board($1, $2)")
        .bind::<SqlUuid, _>(course)
        .bind::<Nullable<Timestamptz>, _>(from)
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let on_board: std::collections::HashSet<Uuid> = tbp::table
        .filter(tbp::user_id.eq_any(&ids))
        .filter(tbp::on_board)
        .select(tbp::user_id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let standing = Standing {
                user_id: r.user_id,
                points: r.points,
                reached_at: r.reached_at,
            };
            (standing, on_board.contains(&r.user_id))
        })
        .collect())
}
