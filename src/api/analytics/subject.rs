//! Who or what an analytic is about, resolved under the caller's identity:
//! the service rules first (a learner names only themselves, a trainer only
//! the courses they teach, an org admin only their organization), then the
//! database, where row-level security hides what the caller may not see
//! (NOT_FOUND, the same as for a subject that does not exist).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::cache::Subject;
use crate::api::{ApiError, caller_user, enforce, uuid_or};
use crate::auth::{Principal, Role};
use crate::db::schema::{courses, departments, organizations, user_preferences, users};
use crate::domain::access;
use crate::domain::analytics::Kind;
use crate::domain::analytics::organization::{DEFAULT_WEEKS, MAX_WEEKS};

/// A learner the caller may read: (user, organization).
pub async fn learner(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    field: &str,
    user_id: &str,
) -> Result<(Uuid, Uuid), ApiError> {
    let user = uuid_or(field, user_id, caller_user(principal))?;
    enforce(access::read_person(principal, user))?;
    let org = users::table
        .find(user)
        .select(users::organization_id)
        .first::<Uuid>(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("user {user}")))?;
    Ok((user, org))
}

/// Whether `user` opted out of the predictive `kind`.
pub async fn opted_out(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    kind: Kind,
) -> Result<bool, ApiError> {
    let flags: Option<(bool, bool, bool)> = user_preferences::table
        .find(user)
        .select((
            user_preferences::drop_off_risk_opt_out,
            user_preferences::forecasting_opt_out,
            user_preferences::recommendations_opt_out,
        ))
        .first(conn)
        .await
        .optional()?;
    let (risk, forecast, recommendations) = flags.unwrap_or_default();
    Ok(match kind {
        Kind::DropOffRisk => risk,
        Kind::OutcomeForecast => forecast,
        Kind::Recommendations => recommendations,
        _ => false,
    })
}

/// The courses a trainer analytic covers: one course, every course a
/// trainer teaches, or every course of an admin's organization.
pub async fn courses(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    course_id: &str,
) -> Result<(Subject, Uuid), ApiError> {
    let Principal::User {
        user_id,
        org_id,
        role,
        ..
    } = principal
    else {
        return Err(ApiError::PermissionDenied(
            "service tokens cannot read analytics".into(),
        ));
    };
    if course_id.is_empty() {
        return match role {
            Role::Trainer => Ok((Subject::User(*user_id), *org_id)),
            Role::OrgAdmin => Ok((Subject::Organization(*org_id), *org_id)),
            _ => Err(ApiError::invalid(
                "subject.course_id",
                "is required for platform admins",
            )),
        };
    }
    let course = uuid_or("subject.course_id", course_id, None)?;
    let (org, trainer): (Uuid, Option<Uuid>) = courses::table
        .find(course)
        .select((courses::organization_id, courses::trainer_id))
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("course {course}")))?;
    if *role == Role::Trainer && trainer != Some(*user_id) {
        return Err(ApiError::PermissionDenied(
            "trainers see the analytics of the courses they teach only".into(),
        ));
    }
    Ok((Subject::Course(course), org))
}

/// A trainer whose teaching the caller may read: themselves, or (admins)
/// a person of their organization.
pub async fn trainer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    trainer_id: &str,
) -> Result<(Uuid, Uuid), ApiError> {
    let trainer = uuid_or("trainer_id", trainer_id, caller_user(principal))?;
    let other_trainer = matches!(principal, Principal::User { role: Role::Trainer, user_id, .. } if *user_id != trainer);
    if other_trainer {
        return Err(ApiError::PermissionDenied(
            "trainers see their own teaching effectiveness only".into(),
        ));
    }
    learner(conn, principal, "trainer_id", &trainer.to_string()).await
}

/// An organization (or one of its departments or teams) and the weeks an
/// organization analytic covers.
#[derive(Debug, Clone, Copy)]
pub struct OrgScope {
    pub org: Uuid,
    pub department: Option<Uuid>,
    pub weeks: u32,
}

impl OrgScope {
    pub fn subject(&self) -> Subject {
        self.department
            .map_or(Subject::Organization(self.org), Subject::Department)
    }

    pub fn params(&self) -> String {
        format!("weeks={}", self.weeks)
    }
}

pub async fn organization(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    organization_id: &str,
    department_id: &str,
    weeks: u32,
) -> Result<OrgScope, ApiError> {
    let org = uuid_or(
        "subject.organization_id",
        organization_id,
        principal.org_id(),
    )?;
    enforce(access::administer_org(principal, org))?;
    let weeks = match weeks {
        0 => DEFAULT_WEEKS,
        w if w > MAX_WEEKS => {
            return Err(ApiError::invalid(
                "subject.weeks",
                format!("must be at most {MAX_WEEKS} (activity events are kept 90 days)"),
            ));
        }
        w => w,
    };
    ensure_org(conn, org).await?;
    let department = if department_id.is_empty() {
        None
    } else {
        let id = uuid_or("subject.department_id", department_id, None)?;
        let found = departments::table
            .find(id)
            .filter(departments::organization_id.eq(org))
            .select(departments::id)
            .first::<Uuid>(conn)
            .await
            .optional()?;
        Some(found.ok_or_else(|| ApiError::NotFound(format!("department {id}")))?)
    };
    Ok(OrgScope {
        org,
        department,
        weeks,
    })
}

/// NOT_FOUND unless the caller can see organization `org`.
pub async fn ensure_org(conn: &mut AsyncPgConnection, org: Uuid) -> Result<(), ApiError> {
    let exists = organizations::table
        .find(org)
        .select(organizations::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    match exists {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!("organization {org}"))),
    }
}

/// A person's target job role, if any.
pub async fn job_role_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<Option<String>, ApiError> {
    Ok(users::table
        .find(user)
        .select(users::job_role)
        .first(conn)
        .await?)
}

/// A person's time zone and "today" in it.
pub async fn zone_of(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Tz, ApiError> {
    let zone: String = users::table
        .find(user)
        .select(users::time_zone)
        .first(conn)
        .await?;
    Ok(crate::domain::zone::zone(&zone))
}

/// An organization's time zone.
pub async fn org_zone(conn: &mut AsyncPgConnection, org: Uuid) -> Result<Tz, ApiError> {
    let zone: String = organizations::table
        .find(org)
        .select(organizations::time_zone)
        .first(conn)
        .await?;
    Ok(crate::domain::zone::zone(&zone))
}

/// The local calendar day of `now` in `zone`.
pub fn today(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}
