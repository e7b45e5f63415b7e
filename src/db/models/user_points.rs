//! `user_points`: a person's standing ([`PointsRow`], a domain type),
//! read here and written by the gamification engine's store.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::deserialize::{self, FromStaticSqlRow, Queryable};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::user_points;
pub use crate::domain::gamification::standing::PointsRow;

/// Every column of `user_points`, in [`PointsRow`]'s order.
macro_rules! columns {
    () => {
        (
            $crate::db::schema::user_points::user_id,
            $crate::db::schema::user_points::organization_id,
            $crate::db::schema::user_points::total_points,
            $crate::db::schema::user_points::capped_points,
            $crate::db::schema::user_points::total_reached_at,
            $crate::db::schema::user_points::level,
            $crate::db::schema::user_points::current_streak,
            $crate::db::schema::user_points::longest_streak,
            $crate::db::schema::user_points::last_active_date,
            $crate::db::schema::user_points::freezes_held,
            $crate::db::schema::user_points::courses_completed,
            $crate::db::schema::user_points::lessons_completed,
            $crate::db::schema::user_points::skills_acquired,
            $crate::db::schema::user_points::paths_completed,
            $crate::db::schema::user_points::domains_mastered,
            $crate::db::schema::user_points::peers_helped,
            $crate::db::schema::user_points::week_start,
            $crate::db::schema::user_points::week_points,
            $crate::db::schema::user_points::week_reached_at,
            $crate::db::schema::user_points::month_start,
            $crate::db::schema::user_points::month_points,
            $crate::db::schema::user_points::month_reached_at,
            $crate::db::schema::user_points::streak_zone,
        )
    };
}
pub(crate) use columns;

type Tuple = (
    Uuid,
    Uuid,
    i64,
    i64,
    Option<DateTime<Utc>>,
    i32,
    i32,
    i32,
    Option<NaiveDate>,
    i16,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    Option<NaiveDate>,
    i64,
    Option<DateTime<Utc>>,
    Option<NaiveDate>,
    i64,
    Option<DateTime<Utc>>,
    Option<String>,
);

// The domain type stays free of diesel: the store maps the row here.
impl<ST> Queryable<ST, Pg> for PointsRow
where
    Tuple: FromStaticSqlRow<ST, Pg>,
{
    type Row = Tuple;

    fn build(row: Tuple) -> deserialize::Result<Self> {
        let (
            user_id,
            organization_id,
            total_points,
            capped_points,
            total_reached_at,
            level,
            current_streak,
            longest_streak,
            last_active_date,
            freezes_held,
            courses_completed,
            lessons_completed,
            skills_acquired,
            paths_completed,
            domains_mastered,
            peers_helped,
            week_start,
            week_points,
            week_reached_at,
            month_start,
            month_points,
            month_reached_at,
            streak_zone,
        ) = row;
        Ok(PointsRow {
            user_id,
            organization_id,
            total_points,
            capped_points,
            total_reached_at,
            level,
            current_streak,
            longest_streak,
            last_active_date,
            freezes_held,
            courses_completed,
            lessons_completed,
            skills_acquired,
            paths_completed,
            domains_mastered,
            peers_helped,
            week_start,
            week_points,
            week_reached_at,
            month_start,
            month_points,
            month_reached_at,
            streak_zone,
        })
    }
}

/// Reads one person's `user_points` row, if any.
pub async fn points_of(
    conn: &mut diesel_async::AsyncPgConnection,
    user: Uuid,
) -> QueryResult<Option<PointsRow>> {
    user_points::table
        .find(user)
        .select(columns!())
        .first(conn)
        .await
        .optional()
}
