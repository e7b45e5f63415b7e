//! The queries of `api::analytics::organization`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel::dsl::{count_star, sum};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{
    course_skills, daily_activity, departments, enrollments, learning_events, org_priority_skills,
    skills, user_points, users,
};

/// An active member and the department and team they are in.
#[derive(Queryable)]
pub struct Member {
    pub id: Uuid,
    pub department: Option<Uuid>,
    pub team: Option<Uuid>,
}

/// The active members of `org`, or of one department or team of it.
pub async fn active_members(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    department: Option<Uuid>,
) -> QueryResult<Vec<Member>> {
    let mut query = users::table
        .filter(users::organization_id.eq(org))
        .filter(users::is_active)
        .select((users::id, users::department_id, users::team_id))
        .into_boxed();
    if let Some(d) = department {
        query = query.filter(users::department_id.eq(d).or(users::team_id.eq(d)));
    }
    query.load(conn).await
}

/// A person's lessons and learning activities summed over some days.
#[derive(Queryable)]
pub struct Activity {
    pub user_id: Uuid,
    pub lessons: Option<i64>,
    pub activities: Option<i64>,
}

/// Each of `ids`'s activity in `org` from `first` to `last` (both included).
pub async fn activity_between(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    first: NaiveDate,
    last: NaiveDate,
    ids: &[Uuid],
) -> QueryResult<Vec<Activity>> {
    daily_activity::table
        .filter(daily_activity::organization_id.eq(org))
        .filter(daily_activity::local_date.between(first, last))
        .filter(daily_activity::user_id.eq_any(ids))
        .group_by(daily_activity::user_id)
        .select((
            daily_activity::user_id,
            sum(daily_activity::lessons_completed),
            sum(daily_activity::learning_activities),
        ))
        .load(conn)
        .await
}

/// A department or team.
#[derive(Queryable)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
}

/// The departments and teams of `org` by name: all of them, or
/// `department` and its teams.
pub async fn groups(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    department: Option<Uuid>,
) -> QueryResult<Vec<Group>> {
    let mut query = departments::table
        .filter(departments::organization_id.eq(org))
        .select((departments::id, departments::name))
        .order((departments::name.asc(), departments::id.asc()))
        .into_boxed();
    if let Some(d) = department {
        query = query.filter(departments::id.eq(d).or(departments::parent_id.eq(d)));
    }
    query.load(conn).await
}

/// Learning activities of one day about one course and/or skill.
#[derive(Queryable)]
pub struct DayActivities {
    pub local_date: NaiveDate,
    pub course_id: Option<Uuid>,
    pub skill_id: Option<Uuid>,
    pub count: i64,
}

/// Learning activities by day and what they were about: those of `ids` in
/// `org` that occurred from `since` on a local day from `first_day` on.
pub async fn activities_by_day(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    since: DateTime<Utc>,
    first_day: NaiveDate,
    ids: &[Uuid],
) -> QueryResult<Vec<DayActivities>> {
    learning_events::table
        .filter(learning_events::organization_id.eq(org))
        .filter(learning_events::occurred_at.ge(since))
        .filter(learning_events::is_learning_activity)
        .filter(learning_events::local_date.ge(first_day))
        .filter(learning_events::user_id.eq_any(ids))
        .group_by((
            learning_events::local_date,
            learning_events::course_id,
            learning_events::skill_id,
        ))
        .select((
            learning_events::local_date,
            learning_events::course_id,
            learning_events::skill_id,
            count_star(),
        ))
        .load(conn)
        .await
}

/// The skills each of `courses` teaches.
pub async fn skills_taught(
    conn: &mut AsyncPgConnection,
    courses: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<Uuid>>> {
    let mut taught: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (course, skill) in course_skills::table
        .filter(course_skills::course_id.eq_any(courses))
        .select((course_skills::course_id, course_skills::skill_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        taught.entry(course).or_default().push(skill);
    }
    Ok(taught)
}

/// A skill the organization gives priority to, and its weight.
#[derive(Queryable)]
pub struct PrioritySkill {
    pub id: Uuid,
    pub name: String,
    pub weight: f64,
}

/// The priority skills of `org`, by name.
pub async fn priority_skills(
    conn: &mut AsyncPgConnection,
    org: Uuid,
) -> QueryResult<Vec<PrioritySkill>> {
    org_priority_skills::table
        .inner_join(skills::table)
        .filter(org_priority_skills::organization_id.eq(org))
        .order((skills::name.asc(), skills::id.asc()))
        .select((skills::id, skills::name, org_priority_skills::weight))
        .load(conn)
        .await
}

/// A person's enrollment status.
#[derive(Queryable)]
pub struct Status {
    pub user_id: Uuid,
    pub status: String,
}

/// The status of every enrollment of `ids` in `org`.
pub async fn enrollment_statuses(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    ids: &[Uuid],
) -> QueryResult<Vec<Status>> {
    enrollments::table
        .filter(enrollments::organization_id.eq(org))
        .filter(enrollments::user_id.eq_any(ids))
        .select((enrollments::user_id, enrollments::status))
        .load(conn)
        .await
}

/// How many of `ids` in `org` hold a streak of at least `min_streak` days
/// and were active on `active_since` or later.
pub async fn streaking(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    ids: &[Uuid],
    min_streak: i32,
    active_since: NaiveDate,
) -> QueryResult<i64> {
    user_points::table
        .filter(user_points::organization_id.eq(org))
        .filter(user_points::user_id.eq_any(ids))
        .filter(user_points::current_streak.ge(min_streak))
        .filter(user_points::last_active_date.ge(active_since))
        .count()
        .get_result(conn)
        .await
}

/// How many times `ids` helped a peer in `org` from `since` on.
pub async fn peer_helps(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    since: DateTime<Utc>,
    ids: &[Uuid],
) -> QueryResult<i64> {
    learning_events::table
        .filter(learning_events::organization_id.eq(org))
        .filter(learning_events::occurred_at.ge(since))
        .filter(learning_events::kind.eq("peer_helped"))
        .filter(learning_events::user_id.eq_any(ids))
        .count()
        .get_result(conn)
        .await
}
