//! The queries of `api::analytics::comparison`.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{daily_activity, enrollments, skills, users};
use crate::db::views::{platform_skill_demand, tenant_skill_demand};

/// A month of demand for a skill over the whole platform; the figures are
/// NULL where the aggregate is suppressed.
#[derive(Queryable)]
pub struct PlatformDemand {
    pub skill_id: Uuid,
    pub month: NaiveDate,
    pub learner_count: Option<i64>,
    pub mastered_count: Option<i64>,
    pub avg_mastery: Option<f64>,
}

/// The platform's skill demand from `from` on.
pub async fn platform_demand(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
) -> QueryResult<Vec<PlatformDemand>> {
    platform_skill_demand::table
        .filter(platform_skill_demand::month.ge(from))
        .select((
            platform_skill_demand::skill_id,
            platform_skill_demand::month,
            platform_skill_demand::learner_count,
            platform_skill_demand::mastered_count,
            platform_skill_demand::avg_mastery,
        ))
        .load(conn)
        .await
}

/// A month of demand for a skill in one organization.
#[derive(Queryable)]
pub struct TenantDemand {
    pub skill_id: Uuid,
    pub month: NaiveDate,
    pub learner_count: i64,
    pub mastered_count: i64,
    pub avg_mastery: Option<f64>,
}

/// The skill demand of `org` from `from` on.
pub async fn tenant_demand(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    from: NaiveDate,
) -> QueryResult<Vec<TenantDemand>> {
    tenant_skill_demand::table
        .filter(tenant_skill_demand::organization_id.eq(org))
        .filter(tenant_skill_demand::month.ge(from))
        .select((
            tenant_skill_demand::skill_id,
            tenant_skill_demand::month,
            tenant_skill_demand::learner_count,
            tenant_skill_demand::mastered_count,
            tenant_skill_demand::avg_mastery,
        ))
        .load(conn)
        .await
}

/// The names of the skills `ids`.
pub async fn skill_names(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, String>> {
    Ok(skills::table
        .filter(skills::id.eq_any(ids))
        .select((skills::id, skills::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Which of an organization's active members a peer group holds.
pub enum PeerGroup {
    /// Those enrolled in a course.
    Enrolled(Uuid),
    /// Those with a job role ("" for people without one).
    JobRole(String),
    Everyone,
}

/// The active members of `org` in `group`.
pub async fn peer_group(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    group: PeerGroup,
) -> QueryResult<Vec<Uuid>> {
    let mut members = users::table
        .filter(users::organization_id.eq(org))
        .filter(users::is_active)
        .select(users::id)
        .into_boxed();
    match group {
        PeerGroup::Enrolled(course) => {
            let enrolled = enrollments::table
                .filter(enrollments::course_id.eq(course))
                .select(enrollments::user_id);
            members = members.filter(users::id.eq_any(enrolled));
        }
        PeerGroup::JobRole(role) => {
            members = members.filter(users::job_role.eq(role));
        }
        PeerGroup::Everyone => {}
    }
    members.load(conn).await
}

/// A person's day: lessons, logins, session seconds, learning activities.
#[derive(Queryable)]
pub struct ActivityDay {
    pub user_id: Uuid,
    pub local_date: NaiveDate,
    pub lessons_completed: i32,
    pub logins: i32,
    pub session_seconds: i32,
    pub learning_activities: i32,
}

/// The days of `ids` from `first` to `last` (both included).
pub async fn activity_days(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    first: NaiveDate,
    last: NaiveDate,
) -> QueryResult<Vec<ActivityDay>> {
    daily_activity::table
        .filter(daily_activity::user_id.eq_any(ids))
        .filter(daily_activity::local_date.between(first, last))
        .select((
            daily_activity::user_id,
            daily_activity::local_date,
            daily_activity::lessons_completed,
            daily_activity::logins,
            daily_activity::session_seconds,
            daily_activity::learning_activities,
        ))
        .load(conn)
        .await
}
