//! Who or what an analytic is about, resolved under the caller's identity:
//! the service rules first (a learner names only themselves, a trainer only
//! the courses they teach, an org admin only their organization), then the
//! database, where row-level security hides what the caller may not see
//! (NOT_FOUND, the same as for a subject that does not exist).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::Subject;
use crate::api::{ApiError, caller_user, enforce, uuid_or};
use crate::auth::{Principal, Role};
use crate::db::analytics::subject as db;
use crate::db::models::course::CourseOwner;
use crate::db::models::organization::Organization;
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
    let org = db::org_of_user(conn, user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {user}")))?;
    Ok((user, org))
}

/// Whether `user` opted out of the predictive `kind`.
pub async fn opted_out(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    kind: Kind,
) -> Result<bool, ApiError> {
    let flags = db::opt_outs(conn, user).await?.unwrap_or_default();
    Ok(match kind {
        Kind::DropOffRisk => flags.drop_off_risk,
        Kind::OutcomeForecast => flags.forecasting,
        Kind::Recommendations => flags.recommendations,
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
    let owner = CourseOwner::of(conn, course)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("course {course}")))?;
    if *role == Role::Trainer && owner.trainer != Some(*user_id) {
        return Err(ApiError::PermissionDenied(
            "trainers see the analytics of the courses they teach only".into(),
        ));
    }
    Ok((Subject::Course(course), owner.organization))
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
        if !db::department_in(conn, org, id).await? {
            return Err(ApiError::NotFound(format!("department {id}")));
        }
        Some(id)
    };
    Ok(OrgScope {
        org,
        department,
        weeks,
    })
}

/// NOT_FOUND unless the caller can see organization `org`.
pub async fn ensure_org(conn: &mut AsyncPgConnection, org: Uuid) -> Result<(), ApiError> {
    if db::org_exists(conn, org).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("organization {org}")))
    }
}

/// A person's target job role, if any.
pub async fn job_role_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<Option<String>, ApiError> {
    Ok(db::job_role_of(conn, user).await?)
}

/// A person's time zone and "today" in it.
pub async fn zone_of(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Tz, ApiError> {
    let zone = db::user_zone(conn, user).await?;
    Ok(crate::domain::zone::zone(&zone))
}

/// An organization's time zone.
pub async fn org_zone(conn: &mut AsyncPgConnection, org: Uuid) -> Result<Tz, ApiError> {
    // NOT_FOUND as a missing row is everywhere in the analytics.
    let zone = Organization::time_zone(conn, org)
        .await?
        .ok_or(diesel::result::Error::NotFound)?;
    Ok(crate::domain::zone::zone(&zone))
}

/// The local calendar day of `now` in `zone`.
pub fn today(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}
