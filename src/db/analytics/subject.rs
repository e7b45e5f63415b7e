//! The lookups that resolve what an analytic is about
//! (`api::analytics::subject`): each returns `None` where the row does not
//! exist or row-level security hides it from the caller.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{departments, enrollments, organizations, user_preferences, users};

/// The organization of `user`.
pub async fn org_of_user(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<Uuid>> {
    users::table
        .find(user)
        .select(users::organization_id)
        .first(conn)
        .await
        .optional()
}

/// A person's predictive opt-outs.
#[derive(Debug, Default, Queryable)]
pub struct OptOuts {
    pub drop_off_risk: bool,
    pub forecasting: bool,
    pub recommendations: bool,
}

/// The person's opt-outs; `None` when they never set preferences.
pub async fn opt_outs(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<OptOuts>> {
    user_preferences::table
        .find(user)
        .select((
            user_preferences::drop_off_risk_opt_out,
            user_preferences::forecasting_opt_out,
            user_preferences::recommendations_opt_out,
        ))
        .first(conn)
        .await
        .optional()
}

/// Whether department `id` exists in organization `org`.
pub async fn department_in(conn: &mut AsyncPgConnection, org: Uuid, id: Uuid) -> QueryResult<bool> {
    let found = departments::table
        .find(id)
        .filter(departments::organization_id.eq(org))
        .select(departments::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Whether organization `org` exists (for the caller).
pub async fn org_exists(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<bool> {
    let found = organizations::table
        .find(org)
        .select(organizations::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// A person's target job role, if any.
pub async fn job_role_of(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<String>> {
    users::table
        .find(user)
        .select(users::job_role)
        .first(conn)
        .await
}

/// A person's time zone name.
pub async fn user_zone(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<String> {
    users::table
        .find(user)
        .select(users::time_zone)
        .first(conn)
        .await
}

/// Whether `user` is enrolled (in any status) in `course`.
pub async fn is_enrolled(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    course: Uuid,
) -> QueryResult<bool> {
    let found = enrollments::table
        .filter(enrollments::user_id.eq(user))
        .filter(enrollments::course_id.eq(course))
        .select(enrollments::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}
