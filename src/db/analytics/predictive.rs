//! The queries of `api::analytics::predictive`.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel::dsl::max;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{course_skills, courses, daily_activity, enrollments, learning_events};

/// The newest activity of `user` on a local day from `since` on.
pub async fn newest_activity(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    since: NaiveDate,
) -> QueryResult<Option<DateTime<Utc>>> {
    daily_activity::table
        .filter(daily_activity::user_id.eq(user))
        .filter(daily_activity::local_date.ge(since))
        .select(max(daily_activity::last_activity_at))
        .first(conn)
        .await
}

/// How many learning activities of `user` occurred in (`after`, `until`].
pub async fn learning_activities_between(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<i64> {
    learning_events::table
        .filter(learning_events::user_id.eq(user))
        .filter(learning_events::is_learning_activity)
        .filter(learning_events::occurred_at.gt(after))
        .filter(learning_events::occurred_at.le(until))
        .count()
        .get_result(conn)
        .await
}

/// An active enrollment: its course, progress and start.
#[derive(Queryable)]
pub struct ActiveEnrollment {
    pub course_id: Uuid,
    pub progress_percent: f64,
    pub enrolled_at: DateTime<Utc>,
}

/// The active enrollments of `user` by course, or only the one in `only`.
pub async fn active_enrollments(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    only: Option<Uuid>,
) -> QueryResult<Vec<ActiveEnrollment>> {
    let mut query = enrollments::table
        .filter(enrollments::user_id.eq(user))
        .filter(enrollments::status.eq("active"))
        .order(enrollments::course_id.asc())
        .select((
            enrollments::course_id,
            enrollments::progress_percent,
            enrollments::enrolled_at,
        ))
        .into_boxed();
    if let Some(course) = only {
        query = query.filter(enrollments::course_id.eq(course));
    }
    query.load(conn).await
}

/// A course of the organization teaching a skill.
#[derive(Queryable)]
pub struct Teaching {
    pub course_id: Uuid,
    pub skill_id: Uuid,
    pub course_name: String,
}

/// The courses of `org` teaching any of `skills`, one row per skill taught.
pub async fn courses_teaching(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    skills: &[Uuid],
) -> QueryResult<Vec<Teaching>> {
    course_skills::table
        .inner_join(courses::table)
        .filter(course_skills::skill_id.eq_any(skills))
        .filter(courses::organization_id.eq(org))
        .select((courses::id, course_skills::skill_id, courses::name))
        .load(conn)
        .await
}

/// The courses `user` is or was enrolled in.
pub async fn enrolled_courses(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> QueryResult<HashSet<Uuid>> {
    Ok(enrollments::table
        .filter(enrollments::user_id.eq(user))
        .select(enrollments::course_id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect())
}
