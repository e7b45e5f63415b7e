//! The catalogue upserts of `EventService`: users, departments, courses,
//! lessons, learning paths, skills, course skills, enrollments and
//! priority skills, pushed by the upstream services.
//!
//! Every RPC follows one path: check the batch (1 to [`MAX_ITEMS`] items)
//! and each item without the database, collecting every bad field as
//! `users[3].email`; then, in one transaction under the caller's identity,
//! check what needs the database (organizations, referenced rows, time
//! zones, keys repeated in the batch), upsert, and refuse the whole call if
//! an id turns out to belong to another organization. Either every item
//! applies or none does.
//!
//! Upserts are idempotent: a row is written only when a column really
//! changes, so the same call twice answers `unchanged = n` the second time.
//! `organization_id` is never updated. An id that already exists in another
//! organization (seen, or hidden by row-level security) is never moved nor
//! modified: the call fails with PERMISSION_DENIED and applies nothing.
//!
//! Here: the RPCs and the path they share. `check` holds the item checks,
//! `write` the steps every write shares; each family (users, departments,
//! courses, skills, enrollments) has its checks and writes in its module.

mod check;
mod courses;
mod departments;
mod enrollments;
mod skills;
mod users;
mod write;

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::api::{ApiError, AppState};
use crate::auth::{AuthContext, Principal, Role};
use crate::proto::events::v1 as pb;
use check::Check;
use courses::{check_course, check_lesson, check_path, write_courses, write_lessons, write_paths};
use departments::{check_department, write_departments};
use enrollments::{check_enrollment, write_enrollments};
use skills::{
    check_link, check_priority, check_skill, write_links, write_priorities, write_skills,
};
use users::{check_user, write_users};

/// Items per request, at most (and ids per item list).
pub const MAX_ITEMS: usize = 1000;

// The request fields holding the items: the first segment of every path.
const USERS: &str = "users";
const DEPARTMENTS: &str = "departments";
const COURSES: &str = "courses";
const LESSONS: &str = "lessons";
const PATHS: &str = "paths";
const SKILLS: &str = "skills";
const LINKS: &str = "links";
const ENROLLMENTS: &str = "enrollments";
const PRIORITY_SKILLS: &str = "skills";

/// UpsertUsers. Catalogue users have no password (they cannot log in until
/// IdentityService gives them one). `roles` may hold only `learner` and
/// `trainer`; afterwards the person holds exactly the listed ones of those
/// two (admin roles are never touched). An empty time zone is the
/// organization's; department and team must be a department and a team of
/// the same organization. The email is held to CreateUser's rule
/// ([`crate::domain::fields::email`]) and stored trimmed; one used by
/// another account (in any organization) is ALREADY_EXISTS naming the field.
pub async fn upsert_users(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertUsersRequest,
) -> Result<pb::UpsertUsersResponse, ApiError> {
    let summary = upsert(state, ctx, USERS, &req.users, check_user, |conn, items| {
        Box::pin(write_users(conn, items))
    });
    Ok(pb::UpsertUsersResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertDepartments. A team needs a parent (a department or team of the
/// same organization, possibly in the same batch); a department has none.
/// Sibling names are unique (ALREADY_EXISTS).
pub async fn upsert_departments(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertDepartmentsRequest,
) -> Result<pb::UpsertDepartmentsResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        DEPARTMENTS,
        &req.departments,
        check_department,
        |conn, items| Box::pin(write_departments(conn, items)),
    );
    Ok(pb::UpsertDepartmentsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertCourses. The trainer, when given, is a user of the course's
/// organization; 0 expected lessons or minutes means unknown (stored NULL).
pub async fn upsert_courses(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertCoursesRequest,
) -> Result<pb::UpsertCoursesResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        COURSES,
        &req.courses,
        check_course,
        |conn, items| Box::pin(write_courses(conn, items)),
    );
    Ok(pb::UpsertCoursesResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertLessons. The lesson's organization is its course's: the course
/// must exist and be visible to the token. A lesson may move to another
/// course of the same organization.
pub async fn upsert_lessons(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertLessonsRequest,
) -> Result<pb::UpsertLessonsResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        LESSONS,
        &req.lessons,
        check_lesson,
        |conn, items| Box::pin(write_lessons(conn, items)),
    );
    Ok(pb::UpsertLessonsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertLearningPaths. `course_ids` replace the path's courses, in order
/// (positions 0..n); each must be a course of the path's organization. A
/// path whose only change is its course list counts as updated.
pub async fn upsert_learning_paths(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertLearningPathsRequest,
) -> Result<pb::UpsertLearningPathsResponse, ApiError> {
    let summary = upsert(state, ctx, PATHS, &req.paths, check_path, |conn, items| {
        Box::pin(write_paths(conn, items))
    });
    Ok(pb::UpsertLearningPathsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertSkills. An empty organization_id makes a platform-wide skill,
/// which only a platform-scoped token may write (else PERMISSION_DENIED).
/// `prerequisite_ids` replace the skill's prerequisites: each must exist
/// (stored or in the batch), be the skill's organization's or
/// platform-wide (a platform skill needs platform prerequisites), and not
/// be the skill itself. A skill whose only change is its prerequisites
/// counts as updated.
pub async fn upsert_skills(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertSkillsRequest,
) -> Result<pb::UpsertSkillsResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        SKILLS,
        &req.skills,
        check_skill,
        |conn, items| Box::pin(write_skills(conn, items)),
    );
    Ok(pb::UpsertSkillsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertCourseSkills, keyed by (course, skill). required_mastery 0 means
/// the default 80. The course must be visible; the skill must be the
/// course's organization's or platform-wide.
pub async fn upsert_course_skills(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertCourseSkillsRequest,
) -> Result<pb::UpsertCourseSkillsResponse, ApiError> {
    let summary = upsert(state, ctx, LINKS, &req.links, check_link, |conn, items| {
        Box::pin(write_links(conn, items))
    });
    Ok(pb::UpsertCourseSkillsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertEnrollments. Upserted by (user, course), the enrollment's natural
/// key, not by id: ingestion may already have created the enrollment from
/// an event, under an id of its own. Such a row keeps its id, status and
/// progress; `enrolled_at` becomes the earlier of the stored and the given
/// time (an empty one is now, so it never moves a stored enrollment). The
/// given id must not name another user's or course's enrollment. User and
/// course must exist in the same organization, which the enrollment takes.
pub async fn upsert_enrollments(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertEnrollmentsRequest,
) -> Result<pb::UpsertEnrollmentsResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        ENROLLMENTS,
        &req.enrollments,
        check_enrollment,
        |conn, items| Box::pin(write_enrollments(conn, items)),
    );
    Ok(pb::UpsertEnrollmentsResponse {
        summary: Some(summary.await?),
    })
}

/// UpsertPrioritySkills, keyed by (organization, skill); weight 0..1. The
/// skill must be the organization's or platform-wide.
pub async fn upsert_priority_skills(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::UpsertPrioritySkillsRequest,
) -> Result<pb::UpsertPrioritySkillsResponse, ApiError> {
    let summary = upsert(
        state,
        ctx,
        PRIORITY_SKILLS,
        &req.skills,
        check_priority,
        |conn, items| Box::pin(write_priorities(conn, items)),
    );
    Ok(pb::UpsertPrioritySkillsResponse {
        summary: Some(summary.await?),
    })
}

/// A catalogue request, for [`check_request`].
pub enum CatalogRequest<'a> {
    Users(&'a pb::UpsertUsersRequest),
    Departments(&'a pb::UpsertDepartmentsRequest),
    Courses(&'a pb::UpsertCoursesRequest),
    Lessons(&'a pb::UpsertLessonsRequest),
    Paths(&'a pb::UpsertLearningPathsRequest),
    Skills(&'a pb::UpsertSkillsRequest),
    Links(&'a pb::UpsertCourseSkillsRequest),
    Enrollments(&'a pb::UpsertEnrollmentsRequest),
    PrioritySkills(&'a pb::UpsertPrioritySkillsRequest),
}

/// The checks an upsert runs before any database work (batch size, every
/// field), with `scope` the organization the caller may write (`None`:
/// any): the items that passed, or the refusal. For the fuzz targets, which
/// must reach every ingestion message's validation without a database.
pub fn check_request(request: CatalogRequest<'_>, scope: Option<Uuid>) -> Result<usize, ApiError> {
    use CatalogRequest as R;
    fn count<P, V>(
        list: &str,
        scope: Option<Uuid>,
        items: &[P],
        check: fn(&P, &mut Check<'_>) -> Result<V, ApiError>,
    ) -> Result<usize, ApiError> {
        check_batch(list, scope, items, check).map(|v| v.len())
    }
    match request {
        R::Users(r) => count(USERS, scope, &r.users, check_user),
        R::Departments(r) => count(DEPARTMENTS, scope, &r.departments, check_department),
        R::Courses(r) => count(COURSES, scope, &r.courses, check_course),
        R::Lessons(r) => count(LESSONS, scope, &r.lessons, check_lesson),
        R::Paths(r) => count(PATHS, scope, &r.paths, check_path),
        R::Skills(r) => count(SKILLS, scope, &r.skills, check_skill),
        R::Links(r) => count(LINKS, scope, &r.links, check_link),
        R::Enrollments(r) => count(ENROLLMENTS, scope, &r.enrollments, check_enrollment),
        R::PrioritySkills(r) => count(PRIORITY_SKILLS, scope, &r.skills, check_priority),
    }
}

// ---------------------------------------------------------------------------
// The common path.

/// Checks the batch and each item, then runs `write` in one transaction.
async fn upsert<P, V, W>(
    state: &AppState,
    ctx: &AuthContext,
    list: &'static str,
    items: &[P],
    check: fn(&P, &mut Check<'_>) -> Result<V, ApiError>,
    write: W,
) -> Result<pb::UpsertSummary, ApiError>
where
    V: Send + 'static,
    W: for<'c> FnOnce(
            &'c mut AsyncPgConnection,
            Vec<V>,
        ) -> BoxFuture<'c, Result<pb::UpsertSummary, ApiError>>
        + Send,
{
    let items = check_batch(list, scope(ctx), items, check)?;
    state.tx(ctx, move |conn| write(conn, items)).await
}

/// The organization the caller may write: the token's, or `None` (any)
/// for platform-scoped service tokens and platform admins.
fn scope(ctx: &AuthContext) -> Option<Uuid> {
    match &ctx.principal {
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        } => None,
        _ => ctx.org_id(),
    }
}

/// The batch size, then every item; all bad fields at once.
fn check_batch<P, V>(
    list: &str,
    scope: Option<Uuid>,
    items: &[P],
    check: fn(&P, &mut Check<'_>) -> Result<V, ApiError>,
) -> Result<Vec<V>, ApiError> {
    if !(1..=MAX_ITEMS).contains(&items.len()) {
        return Err(ApiError::invalid(
            list,
            format!("must hold 1 to {MAX_ITEMS} items, not {}", items.len()),
        ));
    }
    let mut bad = Vec::new();
    let mut checked = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let mut at = Check {
            at: format!("{list}[{index}]"),
            scope,
            bad: &mut bad,
        };
        checked.push(check(item, &mut at)?);
    }
    if bad.is_empty() {
        Ok(checked)
    } else {
        Err(ApiError::InvalidArgument(bad))
    }
}
