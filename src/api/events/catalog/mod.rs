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

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::api::error::FieldViolation;
use crate::api::{ApiError, AppState, uuid_or};
use crate::auth::{AuthContext, Principal, Role};
use crate::db::models::course::{CatalogCourse, NewCourseSkill, NewLesson};
use crate::db::models::department::{DepartmentKey, NewDepartment};
use crate::db::models::enrollment::CatalogEnrollment;
use crate::db::models::learning_path::{CatalogLearningPath, NewLearningPathCourse};
use crate::db::models::organization::{Organization, known_time_zones};
use crate::db::models::skill::{CatalogSkill, NewOrgPrioritySkill, NewSkillPrerequisite};
use crate::db::models::user::{CATALOG_ROLES, NewUser, NewUserRole, User};
use crate::db::models::{Tenanted, owners};
use crate::proto::events::v1 as pb;

/// Items per request, at most (and ids per item list).
pub const MAX_ITEMS: usize = 1000;

/// Mastery a course requires when the link says 0 (SPEC: 80).
const DEFAULT_REQUIRED_MASTERY: i16 = 80;

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
/// the same organization. An email used by another account (in any
/// organization) is ALREADY_EXISTS naming the field.
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

/// The checks of one item, without the database: its bad fields are
/// recorded under `list[index]`. A bad value comes back as a placeholder
/// (nil UUID, as given): the call fails before anything uses it.
struct Check<'a> {
    at: String,
    /// The token's organization (`None`: platform-scoped).
    scope: Option<Uuid>,
    bad: &'a mut Vec<FieldViolation>,
}

impl Check<'_> {
    fn path(&self, field: &str) -> String {
        format!("{}.{field}", self.at)
    }

    fn fail(&mut self, field: &str, why: impl Into<String>) {
        let path = self.path(field);
        self.bad.push(FieldViolation::new(path, why));
    }

    /// A required UUID.
    fn id(&mut self, field: &str, value: &str) -> Uuid {
        match uuid_or(&self.path(field), value, None) {
            Ok(id) => id,
            Err(err) => {
                if let ApiError::InvalidArgument(violations) = err {
                    self.bad.extend(violations);
                }
                Uuid::nil()
            }
        }
    }

    /// An optional UUID: empty is `None`.
    fn optional_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        (!value.is_empty()).then(|| self.id(field, value))
    }

    /// A list of UUIDs without repeats.
    fn ids(&mut self, field: &str, values: &[String]) -> Vec<Uuid> {
        if values.len() > MAX_ITEMS {
            self.fail(field, format!("must hold at most {MAX_ITEMS} ids"));
        }
        let ids: Vec<Uuid> = values
            .iter()
            .enumerate()
            .map(|(j, value)| self.id(&format!("{field}[{j}]"), value))
            .collect();
        for (j, first) in repeats(ids.iter()) {
            if !ids[j].is_nil() {
                self.fail(
                    &format!("{field}[{j}]"),
                    format!("repeats {field}[{first}]"),
                );
            }
        }
        ids
    }

    /// Text of `min..=max` characters (as PostgreSQL's length() counts).
    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let length = value.chars().count();
        if length < min || length > max {
            self.fail(field, format!("must be {min} to {max} characters"));
        } else if crate::domain::has_nul(value) {
            self.fail(field, crate::domain::violation::NUL_REFUSED);
        }
        value.to_string()
    }

    /// Optional text: empty is `None`, else 1..=`max` characters.
    fn optional_text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        (!value.is_empty()).then(|| self.text(field, value, 1, max))
    }

    /// A count stored as `integer`; 0 means unknown (`None`).
    fn count(&mut self, field: &str, value: u32) -> Option<i32> {
        match i32::try_from(value) {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(field, format!("must be at most {}", i32::MAX));
                None
            }
        }
    }

    /// A number in 0..=1.
    fn fraction(&mut self, field: &str, value: f64) -> f64 {
        if !(0.0..=1.0).contains(&value) {
            self.fail(field, "must be between 0 and 1");
        }
        value
    }

    /// The item's organization: empty is the token's; a platform-scoped
    /// token must name one; a token of one organization naming another is
    /// PERMISSION_DENIED for the whole call.
    fn org(&mut self, field: &str, value: &str) -> Result<Uuid, ApiError> {
        if value.is_empty() {
            return Ok(self.scope.unwrap_or_else(|| {
                self.fail(field, "is required with a platform-scoped token");
                Uuid::nil()
            }));
        }
        let named = self.id(field, value);
        match self.scope {
            Some(own) if !named.is_nil() && named != own => {
                Err(ApiError::PermissionDenied(format!(
                    "{}: the token may only write its own organization",
                    self.path(field)
                )))
            }
            _ => Ok(named),
        }
    }

    /// A skill's organization: empty is platform-wide (`None`), which only
    /// platform-scoped tokens may write.
    fn skill_org(&mut self, field: &str, value: &str) -> Result<Option<Uuid>, ApiError> {
        match (value.is_empty(), self.scope) {
            (true, None) => Ok(None),
            (true, Some(_)) => Err(ApiError::PermissionDenied(format!(
                "{}: platform-wide skills (empty organization_id) need a platform-scoped token",
                self.path(field)
            ))),
            (false, _) => self.org(field, value).map(Some),
        }
    }
}

/// `(index, index of its first occurrence)` of every key seen before.
fn repeats<K: Eq + Hash>(keys: impl IntoIterator<Item = K>) -> Vec<(usize, usize)> {
    let mut first = HashMap::new();
    keys.into_iter()
        .enumerate()
        .filter_map(|(index, key)| match first.entry(key) {
            Entry::Occupied(seen) => Some((index, *seen.get())),
            Entry::Vacant(slot) => {
                slot.insert(index);
                None
            }
        })
        .collect()
}

/// What the checks against the database found, by item: bad fields
/// (INVALID_ARGUMENT) and keys taken by other rows (ALREADY_EXISTS).
struct Findings {
    list: &'static str,
    bad: Vec<FieldViolation>,
    taken: Vec<String>,
}

impl Findings {
    fn new(list: &'static str) -> Self {
        Self {
            list,
            bad: Vec::new(),
            taken: Vec::new(),
        }
    }

    fn add(&mut self, index: usize, field: &str, why: impl Into<String>) {
        self.bad.push(FieldViolation::new(
            format!("{}[{index}].{field}", self.list),
            why,
        ));
    }

    fn conflict(&mut self, index: usize, field: &str, why: &str) {
        self.taken
            .push(format!("{}[{index}].{field}: {why}", self.list));
    }

    /// Keys must not repeat within the batch (one command cannot write a
    /// row twice).
    fn unique<K: Eq + Hash>(&mut self, field: &str, keys: impl IntoIterator<Item = K>) {
        for (index, first) in repeats(keys) {
            let why = format!("repeats {}[{first}]", self.list);
            self.add(index, field, why);
        }
    }

    /// A referenced row (its owner as [`owners`] found it, `None`: not
    /// found) must belong to `org` or be platform-wide.
    fn belongs(
        &mut self,
        index: usize,
        field: &str,
        owner: Option<&Option<Uuid>>,
        org: Option<Uuid>,
        what: &str,
    ) {
        match owner {
            Some(owner) if *owner == org || owner.is_none() => {}
            Some(_) => self.add(
                index,
                field,
                format!("the {what} belongs to another organization"),
            ),
            None => self.add(
                index,
                field,
                format!("no such {what} (or not visible to this token)"),
            ),
        }
    }

    fn done(self) -> Result<(), ApiError> {
        if !self.bad.is_empty() {
            return Err(ApiError::InvalidArgument(self.bad));
        }
        if !self.taken.is_empty() {
            return Err(ApiError::AlreadyExists(format!(
                "{}; nothing was applied",
                self.taken.join("; ")
            )));
        }
        Ok(())
    }
}

/// The organizations the items name must exist; returns their time zones.
async fn org_zones(
    conn: &mut AsyncPgConnection,
    found: &mut Findings,
    orgs: impl IntoIterator<Item = (usize, Uuid)>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    let orgs: Vec<(usize, Uuid)> = orgs.into_iter().collect();
    let ids: Vec<Uuid> = distinct(orgs.iter().map(|(_, org)| *org));
    let zones: HashMap<Uuid, String> = Organization::zones(conn, &ids).await?.into_iter().collect();
    for (index, org) in orgs {
        if !zones.contains_key(&org) {
            found.add(index, "organization_id", "no such organization");
        }
    }
    Ok(zones)
}

/// The owners of the visible rows of `table` among `ids`.
async fn owners_of(
    conn: &mut AsyncPgConnection,
    table: Tenanted,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Option<Uuid>>, ApiError> {
    let ids = distinct(ids);
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(owners(conn, table, &ids).await?)
}

fn distinct<K: Eq + Hash>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    keys.into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// After the upsert: an item it neither inserted nor changed is either an
/// unchanged row of the item's organization, or a row of another one (the
/// `organization_id` guard skipped it, or row-level security hides it).
/// The latter refuses the whole call (PERMISSION_DENIED): an id of another
/// organization is never moved nor modified.
async fn ensure_own(
    conn: &mut AsyncPgConnection,
    table: Tenanted,
    list: &str,
    items: impl IntoIterator<Item = (Uuid, Option<Uuid>)>,
    written: &HashMap<Uuid, bool>,
) -> Result<(), ApiError> {
    let rest: Vec<(usize, Uuid, Option<Uuid>)> = items
        .into_iter()
        .enumerate()
        .filter(|(_, (id, _))| !written.contains_key(id))
        .map(|(index, (id, org))| (index, id, org))
        .collect();
    let found = owners_of(conn, table, rest.iter().map(|(_, id, _)| *id)).await?;
    let foreign: Vec<String> = rest
        .iter()
        .filter(|(_, id, org)| found.get(id) != Some(org))
        .map(|(index, _, _)| format!("{list}[{index}].id"))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "{}: the id belongs to another organization; nothing was applied",
            foreign.join(", ")
        )))
    }
}

/// A refusal of the database the checks could not foresee (a concurrent
/// writer, a row hidden by row-level security), as the caller's error.
fn refused(list: &str, err: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    if let Error::DatabaseError(kind, info) = &err {
        match (kind, info.constraint_name().unwrap_or_default()) {
            (Kind::UniqueViolation, "users_email_lower") => {
                return ApiError::AlreadyExists(format!(
                    "{list}[].email: an account with this email already exists; nothing was applied"
                ));
            }
            (Kind::UniqueViolation, "departments_sibling_name") => {
                return ApiError::AlreadyExists(format!(
                    "{list}[].name: a department of the same parent has this name; nothing was applied"
                ));
            }
            (Kind::UniqueViolation, "enrollments_pkey") => {
                return ApiError::PermissionDenied(format!(
                    "{list}[].id: names an enrollment of another organization; nothing was applied"
                ));
            }
            (Kind::CheckViolation, constraint) => {
                return ApiError::invalid(list, format!("refused by the data rule {constraint}"));
            }
            _ => {}
        }
    }
    ApiError::from(err)
}

/// The call's counts: a key the upsert returned was inserted (`true`) or
/// updated; one it did not return is unchanged, unless its child rows
/// (`also_changed`: roles, prerequisites, path courses) changed.
fn summary<K: Eq + Hash>(
    keys: impl IntoIterator<Item = K>,
    written: &HashMap<K, bool>,
    also_changed: &HashSet<K>,
) -> pb::UpsertSummary {
    let mut counts = pb::UpsertSummary::default();
    for key in keys {
        match written.get(&key) {
            Some(true) => counts.inserted += 1,
            Some(false) => counts.updated += 1,
            None if also_changed.contains(&key) => counts.updated += 1,
            None => counts.unchanged += 1,
        }
    }
    counts
}

/// The owners whose wanted children differ from the stored ones (both
/// compared sorted).
fn changed_sets<C: Ord>(
    stored: Vec<(Uuid, C)>,
    wanted: impl IntoIterator<Item = (Uuid, Vec<C>)>,
) -> HashSet<Uuid> {
    let mut have: HashMap<Uuid, Vec<C>> = HashMap::new();
    for (owner, child) in stored {
        have.entry(owner).or_default().push(child);
    }
    wanted
        .into_iter()
        .filter_map(|(owner, mut want)| {
            let mut held = have.remove(&owner).unwrap_or_default();
            held.sort();
            want.sort();
            (held != want).then_some(owner)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Users.

struct UserItem {
    id: Uuid,
    org: Uuid,
    email: String,
    full_name: String,
    /// `None`: the organization's zone.
    time_zone: Option<String>,
    department_id: Option<Uuid>,
    team_id: Option<Uuid>,
    job_role: Option<String>,
    roles: BTreeSet<&'static str>,
}

fn check_user(user: &pb::CatalogUser, c: &mut Check<'_>) -> Result<UserItem, ApiError> {
    let org = c.org("organization_id", &user.organization_id)?;
    // As the CHECK constraint: an '@' after the first character.
    if user.email.find('@').is_none_or(|at| at == 0) || user.email.chars().count() > 320 {
        c.fail(
            "email",
            "must be an address with '@' (not first), at most 320 characters",
        );
    }
    let mut roles = BTreeSet::new();
    for (j, role) in user.roles.iter().enumerate() {
        match CATALOG_ROLES.iter().find(|known| **known == role) {
            Some(known) => {
                roles.insert(*known);
            }
            None => c.fail(
                &format!("roles[{j}]"),
                "must be learner or trainer (admin roles are granted through IdentityService)",
            ),
        }
    }
    Ok(UserItem {
        id: c.id("id", &user.id),
        org,
        email: user.email.clone(),
        full_name: c.text("full_name", &user.full_name, 0, 200),
        time_zone: (!user.time_zone.is_empty()).then(|| user.time_zone.clone()),
        department_id: c.optional_id("department_id", &user.department_id),
        team_id: c.optional_id("team_id", &user.team_id),
        job_role: c.optional_text("job_role", &user.job_role, 100),
        roles,
    })
}

async fn write_users(
    conn: &mut AsyncPgConnection,
    items: Vec<UserItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(USERS);
    found.unique("id", items.iter().map(|u| u.id));
    found.unique("email", items.iter().map(|u| u.email.to_lowercase()));
    let zones = org_zones(conn, &mut found, items.iter().map(|u| u.org).enumerate()).await?;
    check_time_zones(conn, &mut found, &items).await?;
    check_groups(conn, &mut found, &items).await?;
    check_emails(conn, &mut found, &items).await?;
    found.done()?;
    let rows: Vec<NewUser<'_>> = items
        .iter()
        .map(|u| NewUser {
            id: u.id,
            organization_id: u.org,
            email: &u.email,
            full_name: &u.full_name,
            time_zone: u.time_zone.as_deref().unwrap_or(&zones[&u.org]),
            department_id: u.department_id,
            team_id: u.team_id,
            job_role: u.job_role.as_deref(),
            password_hash: None,
            avatar_url: None,
        })
        .collect();
    let written: HashMap<Uuid, bool> = User::upsert_catalog(conn, &rows)
        .await
        .map_err(|err| refused(USERS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|u| (u.id, Some(u.org)));
    ensure_own(conn, Tenanted::Users, USERS, keys, &written).await?;
    let roles_changed = set_roles(conn, &items).await?;
    Ok(summary(
        items.iter().map(|u| u.id),
        &written,
        &roles_changed,
    ))
}

/// Named time zones must be in the `time_zones` table.
async fn check_time_zones(
    conn: &mut AsyncPgConnection,
    found: &mut Findings,
    items: &[UserItem],
) -> Result<(), ApiError> {
    let named: Vec<&str> = distinct(items.iter().filter_map(|u| u.time_zone.as_deref()));
    if named.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = known_time_zones(conn, &named).await?.into_iter().collect();
    for (index, user) in items.iter().enumerate() {
        if user
            .time_zone
            .as_ref()
            .is_some_and(|tz| !known.contains(tz))
        {
            found.add(index, "time_zone", "is not a known IANA time zone");
        }
    }
    Ok(())
}

/// department_id must be a department and team_id a team of the user's
/// organization.
async fn check_groups(
    conn: &mut AsyncPgConnection,
    found: &mut Findings,
    items: &[UserItem],
) -> Result<(), ApiError> {
    let ids = distinct(
        items
            .iter()
            .flat_map(|u| [u.department_id, u.team_id])
            .flatten(),
    );
    if ids.is_empty() {
        return Ok(());
    }
    let stored: HashMap<Uuid, DepartmentKey> = DepartmentKey::find_all(conn, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    for (index, user) in items.iter().enumerate() {
        let groups = [
            ("department_id", user.department_id, "department"),
            ("team_id", user.team_id, "team"),
        ];
        for (field, id, kind) in groups {
            let Some(id) = id else { continue };
            match stored.get(&id) {
                Some(d) if d.organization_id == user.org && d.kind == kind => {}
                Some(d) if d.organization_id == user.org => {
                    found.add(index, field, format!("is a {}, not a {kind}", d.kind));
                }
                _ => found.add(index, field, format!("no such {kind} in the organization")),
            }
        }
    }
    Ok(())
}

/// Emails are unique platform-wide: one held by another account, in any
/// organization, is ALREADY_EXISTS.
async fn check_emails(
    conn: &mut AsyncPgConnection,
    found: &mut Findings,
    items: &[UserItem],
) -> Result<(), ApiError> {
    let emails: Vec<String> = items.iter().map(|u| u.email.clone()).collect();
    let holders: HashMap<String, Uuid> = User::email_holders(conn, &emails)
        .await?
        .into_iter()
        .map(|h| (h.email.to_lowercase(), h.id))
        .collect();
    for (index, user) in items.iter().enumerate() {
        if holders
            .get(&user.email.to_lowercase())
            .is_some_and(|holder| *holder != user.id)
        {
            found.conflict(index, "email", "already used by another account");
        }
    }
    Ok(())
}

/// Makes each user's learner/trainer roles exactly the listed ones;
/// returns the users whose roles changed.
async fn set_roles(
    conn: &mut AsyncPgConnection,
    items: &[UserItem],
) -> Result<HashSet<Uuid>, ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|u| u.id).collect();
    let held: HashSet<(Uuid, String)> = User::roles_of(conn, &ids).await?.into_iter().collect();
    let mut changed = HashSet::new();
    let mut grants = Vec::new();
    let mut revokes: HashMap<&str, Vec<Uuid>> = HashMap::new();
    for user in items {
        for role in CATALOG_ROLES {
            let holds = held.contains(&(user.id, role.to_string()));
            match (user.roles.contains(&role), holds) {
                (true, false) => grants.push(NewUserRole {
                    user_id: user.id,
                    role,
                    organization_id: user.org,
                }),
                (false, true) => revokes.entry(role).or_default().push(user.id),
                _ => continue,
            }
            changed.insert(user.id);
        }
    }
    for (role, ids) in revokes {
        User::revoke_all(conn, role, &ids).await?;
    }
    if !grants.is_empty() {
        User::grant_all(conn, &grants).await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------
// Departments.

struct DepartmentItem {
    id: Uuid,
    org: Uuid,
    parent_id: Option<Uuid>,
    kind: &'static str,
    name: String,
}

fn check_department(dept: &pb::Department, c: &mut Check<'_>) -> Result<DepartmentItem, ApiError> {
    let org = c.org("organization_id", &dept.organization_id)?;
    let id = c.id("id", &dept.id);
    let parent_id = c.optional_id("parent_id", &dept.parent_id);
    let kind = match pb::DepartmentKind::try_from(dept.kind) {
        Ok(pb::DepartmentKind::Department) => "department",
        Ok(pb::DepartmentKind::Team) => "team",
        _ => {
            c.fail(
                "kind",
                "must be DEPARTMENT_KIND_DEPARTMENT or DEPARTMENT_KIND_TEAM",
            );
            "department"
        }
    };
    match (kind, parent_id) {
        ("team", None) => c.fail("parent_id", "is required for a team"),
        ("department", Some(_)) => c.fail("parent_id", "must be empty for a department"),
        (_, Some(parent)) if parent == id => c.fail("parent_id", "cannot be the department itself"),
        _ => {}
    }
    Ok(DepartmentItem {
        id,
        org,
        parent_id,
        kind,
        name: c.text("name", &dept.name, 1, 200),
    })
}

async fn write_departments(
    conn: &mut AsyncPgConnection,
    items: Vec<DepartmentItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(DEPARTMENTS);
    found.unique("id", items.iter().map(|d| d.id));
    found.unique("name", items.iter().map(|d| (d.org, d.parent_id, &d.name)));
    org_zones(conn, &mut found, items.iter().map(|d| d.org).enumerate()).await?;
    // Parents may be stored or come in the same batch.
    let mut parents = owners_of(
        conn,
        Tenanted::Departments,
        items.iter().filter_map(|d| d.parent_id),
    )
    .await?;
    parents.extend(items.iter().map(|d| (d.id, Some(d.org))));
    for (index, dept) in items.iter().enumerate() {
        if let Some(parent) = dept.parent_id {
            found.belongs(
                index,
                "parent_id",
                parents.get(&parent),
                Some(dept.org),
                "department",
            );
        }
    }
    check_sibling_names(conn, &mut found, &items).await?;
    found.done()?;
    let rows: Vec<NewDepartment<'_>> = items
        .iter()
        .map(|d| NewDepartment {
            id: d.id,
            organization_id: d.org,
            parent_id: d.parent_id,
            kind: d.kind,
            name: &d.name,
        })
        .collect();
    let written: HashMap<Uuid, bool> = NewDepartment::upsert_catalog(conn, &rows)
        .await
        .map_err(|err| refused(DEPARTMENTS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|d| (d.id, Some(d.org)));
    ensure_own(conn, Tenanted::Departments, DEPARTMENTS, keys, &written).await?;
    Ok(summary(
        items.iter().map(|d| d.id),
        &written,
        &HashSet::new(),
    ))
}

/// A stored department outside the batch with the same parent and name is
/// ALREADY_EXISTS (sibling names are unique).
async fn check_sibling_names(
    conn: &mut AsyncPgConnection,
    found: &mut Findings,
    items: &[DepartmentItem],
) -> Result<(), ApiError> {
    let orgs = distinct(items.iter().map(|d| d.org));
    let names = distinct(items.iter().map(|d| d.name.as_str()));
    let in_batch: HashSet<Uuid> = items.iter().map(|d| d.id).collect();
    let stored: HashMap<(Uuid, Option<Uuid>, String), Uuid> =
        DepartmentKey::named(conn, &orgs, &names)
            .await?
            .into_iter()
            .filter(|d| !in_batch.contains(&d.id))
            .map(|d| ((d.organization_id, d.parent_id, d.name), d.id))
            .collect();
    for (index, dept) in items.iter().enumerate() {
        if stored.contains_key(&(dept.org, dept.parent_id, dept.name.clone())) {
            found.conflict(
                index,
                "name",
                "a department of the same parent has this name",
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Courses and lessons.

fn check_course(course: &pb::Course, c: &mut Check<'_>) -> Result<CatalogCourse, ApiError> {
    Ok(CatalogCourse {
        organization_id: c.org("organization_id", &course.organization_id)?,
        id: c.id("id", &course.id),
        trainer_id: c.optional_id("trainer_id", &course.trainer_id),
        name: c.text("name", &course.name, 1, 300),
        description: (!course.description.is_empty()).then(|| course.description.clone()),
        expected_lessons: c.count("expected_lessons", course.expected_lessons),
        expected_duration_minutes: c.count(
            "expected_duration_minutes",
            course.expected_duration_minutes,
        ),
    })
}

async fn write_courses(
    conn: &mut AsyncPgConnection,
    items: Vec<CatalogCourse>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(COURSES);
    found.unique("id", items.iter().map(|c| c.id));
    let orgs = items.iter().map(|c| c.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let trainers = owners_of(
        conn,
        Tenanted::Users,
        items.iter().filter_map(|c| c.trainer_id),
    )
    .await?;
    for (index, course) in items.iter().enumerate() {
        if let Some(trainer) = course.trainer_id {
            let org = Some(course.organization_id);
            found.belongs(index, "trainer_id", trainers.get(&trainer), org, "user");
        }
    }
    found.done()?;
    let written: HashMap<Uuid, bool> = CatalogCourse::upsert(conn, &items)
        .await
        .map_err(|err| refused(COURSES, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|c| (c.id, Some(c.organization_id)));
    ensure_own(conn, Tenanted::Courses, COURSES, keys, &written).await?;
    Ok(summary(
        items.iter().map(|c| c.id),
        &written,
        &HashSet::new(),
    ))
}

/// A lesson; its organization (nil here) is filled from its course.
fn check_lesson(lesson: &pb::Lesson, c: &mut Check<'_>) -> Result<NewLesson, ApiError> {
    Ok(NewLesson {
        id: c.id("id", &lesson.id),
        course_id: c.id("course_id", &lesson.course_id),
        organization_id: Uuid::nil(),
        title: c.text("title", &lesson.title, 0, 300),
        position: c.count("position", lesson.position).unwrap_or(0),
    })
}

async fn write_lessons(
    conn: &mut AsyncPgConnection,
    mut items: Vec<NewLesson>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(LESSONS);
    found.unique("id", items.iter().map(|l| l.id));
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|l| l.course_id)).await?;
    for (index, lesson) in items.iter_mut().enumerate() {
        match courses.get(&lesson.course_id) {
            Some(Some(org)) => lesson.organization_id = *org,
            _ => found.add(
                index,
                "course_id",
                "no such course (or not visible to this token)",
            ),
        }
    }
    found.done()?;
    let written: HashMap<Uuid, bool> = NewLesson::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(LESSONS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|l| (l.id, Some(l.organization_id)));
    ensure_own(conn, Tenanted::Lessons, LESSONS, keys, &written).await?;
    Ok(summary(
        items.iter().map(|l| l.id),
        &written,
        &HashSet::new(),
    ))
}

// ---------------------------------------------------------------------------
// Learning paths.

struct PathItem {
    row: CatalogLearningPath,
    courses: Vec<Uuid>,
}

fn check_path(path: &pb::LearningPath, c: &mut Check<'_>) -> Result<PathItem, ApiError> {
    let row = CatalogLearningPath {
        organization_id: c.org("organization_id", &path.organization_id)?,
        id: c.id("id", &path.id),
        name: c.text("name", &path.name, 1, 300),
        description: (!path.description.is_empty()).then(|| path.description.clone()),
    };
    Ok(PathItem {
        row,
        courses: c.ids("course_ids", &path.course_ids),
    })
}

async fn write_paths(
    conn: &mut AsyncPgConnection,
    items: Vec<PathItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(PATHS);
    found.unique("id", items.iter().map(|p| p.row.id));
    let orgs = items.iter().map(|p| p.row.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let courses = owners_of(
        conn,
        Tenanted::Courses,
        items.iter().flat_map(|p| p.courses.clone()),
    )
    .await?;
    for (index, path) in items.iter().enumerate() {
        for (j, course) in path.courses.iter().enumerate() {
            let org = Some(path.row.organization_id);
            found.belongs(
                index,
                &format!("course_ids[{j}]"),
                courses.get(course),
                org,
                "course",
            );
        }
    }
    found.done()?;
    let rows: Vec<CatalogLearningPath> = items.iter().map(|p| p.row.clone()).collect();
    let written: HashMap<Uuid, bool> = CatalogLearningPath::upsert(conn, &rows)
        .await
        .map_err(|err| refused(PATHS, err))?
        .into_iter()
        .collect();
    let keys = items
        .iter()
        .map(|p| (p.row.id, Some(p.row.organization_id)));
    ensure_own(conn, Tenanted::LearningPaths, PATHS, keys, &written).await?;
    let changed = set_path_courses(conn, &items).await?;
    Ok(summary(items.iter().map(|p| p.row.id), &written, &changed))
}

/// Replaces the course list of every path whose list (with positions)
/// differs; returns those paths.
async fn set_path_courses(
    conn: &mut AsyncPgConnection,
    items: &[PathItem],
) -> Result<HashSet<Uuid>, ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|p| p.row.id).collect();
    let stored = NewLearningPathCourse::of_paths(conn, &ids)
        .await?
        .into_iter()
        .map(|(path, course, position)| (path, (position, course)))
        .collect();
    let positioned =
        |p: &PathItem| -> Vec<(i32, Uuid)> { (0..).zip(p.courses.iter().copied()).collect() };
    let changed = changed_sets(stored, items.iter().map(|p| (p.row.id, positioned(p))));
    if !changed.is_empty() {
        let rows: Vec<NewLearningPathCourse> = items
            .iter()
            .filter(|p| changed.contains(&p.row.id))
            .flat_map(|p| {
                positioned(p)
                    .into_iter()
                    .map(|(position, course_id)| NewLearningPathCourse {
                        path_id: p.row.id,
                        course_id,
                        position,
                    })
            })
            .collect();
        let paths: Vec<Uuid> = changed.iter().copied().collect();
        NewLearningPathCourse::replace(conn, &paths, &rows).await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------
// Skills.

struct SkillItem {
    row: CatalogSkill,
    prerequisites: Vec<Uuid>,
}

fn check_skill(skill: &pb::Skill, c: &mut Check<'_>) -> Result<SkillItem, ApiError> {
    let organization_id = c.skill_org("organization_id", &skill.organization_id)?;
    let id = c.id("id", &skill.id);
    let level = match pb::SkillLevel::try_from(skill.level) {
        Ok(pb::SkillLevel::Beginner) => "beginner",
        Ok(pb::SkillLevel::Intermediate) => "intermediate",
        Ok(pb::SkillLevel::Advanced) => "advanced",
        _ => {
            c.fail(
                "level",
                "must be SKILL_LEVEL_BEGINNER, SKILL_LEVEL_INTERMEDIATE or SKILL_LEVEL_ADVANCED",
            );
            "beginner"
        }
    };
    let domain = match skill.domain.as_str() {
        "" => "general".to_string(),
        domain => c.text("domain", domain, 1, 100),
    };
    let prerequisites = c.ids("prerequisite_ids", &skill.prerequisite_ids);
    for (j, prerequisite) in prerequisites.iter().enumerate() {
        if *prerequisite == id && !id.is_nil() {
            c.fail(
                &format!("prerequisite_ids[{j}]"),
                "cannot be the skill itself",
            );
        }
    }
    let row = CatalogSkill {
        id,
        organization_id,
        name: c.text("name", &skill.name, 1, 200),
        domain,
        level,
        market_demand: skill.market_demand.map(|d| c.fraction("market_demand", d)),
    };
    Ok(SkillItem { row, prerequisites })
}

async fn write_skills(
    conn: &mut AsyncPgConnection,
    items: Vec<SkillItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(SKILLS);
    found.unique("id", items.iter().map(|s| s.row.id));
    let orgs = items.iter().enumerate();
    let orgs = orgs.filter_map(|(index, s)| s.row.organization_id.map(|org| (index, org)));
    org_zones(conn, &mut found, orgs).await?;
    // Prerequisites may be stored or come in the same batch.
    let mut known = owners_of(
        conn,
        Tenanted::Skills,
        items.iter().flat_map(|s| s.prerequisites.clone()),
    )
    .await?;
    known.extend(items.iter().map(|s| (s.row.id, s.row.organization_id)));
    for (index, skill) in items.iter().enumerate() {
        for (j, prerequisite) in skill.prerequisites.iter().enumerate() {
            let field = format!("prerequisite_ids[{j}]");
            let owner = known.get(prerequisite);
            found.belongs(index, &field, owner, skill.row.organization_id, "skill");
        }
    }
    found.done()?;
    let rows: Vec<CatalogSkill> = items.iter().map(|s| s.row.clone()).collect();
    let written: HashMap<Uuid, bool> = CatalogSkill::upsert(conn, &rows)
        .await
        .map_err(|err| refused(SKILLS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|s| (s.row.id, s.row.organization_id));
    ensure_own(conn, Tenanted::Skills, SKILLS, keys, &written).await?;
    let changed = set_prerequisites(conn, &items).await?;
    Ok(summary(items.iter().map(|s| s.row.id), &written, &changed))
}

/// Replaces the prerequisites of every skill whose set differs; returns
/// those skills.
async fn set_prerequisites(
    conn: &mut AsyncPgConnection,
    items: &[SkillItem],
) -> Result<HashSet<Uuid>, ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|s| s.row.id).collect();
    let stored = NewSkillPrerequisite::of_skills(conn, &ids).await?;
    let changed = changed_sets(
        stored,
        items.iter().map(|s| (s.row.id, s.prerequisites.clone())),
    );
    if !changed.is_empty() {
        let rows: Vec<NewSkillPrerequisite> = items
            .iter()
            .filter(|s| changed.contains(&s.row.id))
            .flat_map(|s| {
                s.prerequisites
                    .iter()
                    .map(|prerequisite| NewSkillPrerequisite {
                        skill_id: s.row.id,
                        prerequisite_skill_id: *prerequisite,
                    })
            })
            .collect();
        let skills: Vec<Uuid> = changed.iter().copied().collect();
        NewSkillPrerequisite::replace(conn, &skills, &rows).await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------
// Course skills.

fn check_link(link: &pb::CourseSkill, c: &mut Check<'_>) -> Result<NewCourseSkill, ApiError> {
    let required_mastery = match link.required_mastery {
        0 => DEFAULT_REQUIRED_MASTERY,
        // In 1..=100 by the guard, so it fits.
        mastery @ 1..=100 => mastery as i16,
        _ => {
            c.fail("required_mastery", "must be 0 (the default 80) to 100");
            DEFAULT_REQUIRED_MASTERY
        }
    };
    Ok(NewCourseSkill {
        course_id: c.id("course_id", &link.course_id),
        skill_id: c.id("skill_id", &link.skill_id),
        required_mastery,
    })
}

async fn write_links(
    conn: &mut AsyncPgConnection,
    items: Vec<NewCourseSkill>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(LINKS);
    found.unique("skill_id", items.iter().map(|l| (l.course_id, l.skill_id)));
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|l| l.course_id)).await?;
    let skills = owners_of(conn, Tenanted::Skills, items.iter().map(|l| l.skill_id)).await?;
    for (index, link) in items.iter().enumerate() {
        match courses.get(&link.course_id) {
            Some(org) => {
                found.belongs(index, "skill_id", skills.get(&link.skill_id), *org, "skill")
            }
            None => found.add(
                index,
                "course_id",
                "no such course (or not visible to this token)",
            ),
        }
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = NewCourseSkill::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(LINKS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|l| (l.course_id, l.skill_id));
    Ok(summary(keys, &written, &HashSet::new()))
}

// ---------------------------------------------------------------------------
// Enrollments.

/// An enrollment; its organization (nil here) is filled from its course.
fn check_enrollment(
    enrollment: &pb::Enrollment,
    c: &mut Check<'_>,
) -> Result<CatalogEnrollment, ApiError> {
    let enrolled_at = match &enrollment.enrolled_at {
        None => Utc::now(),
        Some(at) => u32::try_from(at.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
            .unwrap_or_else(|| {
                c.fail("enrolled_at", "is not a valid timestamp");
                Utc::now()
            }),
    };
    Ok(CatalogEnrollment {
        id: c.id("id", &enrollment.id),
        user_id: c.id("user_id", &enrollment.user_id),
        course_id: c.id("course_id", &enrollment.course_id),
        organization_id: Uuid::nil(),
        enrolled_at,
    })
}

async fn write_enrollments(
    conn: &mut AsyncPgConnection,
    mut items: Vec<CatalogEnrollment>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(ENROLLMENTS);
    found.unique("id", items.iter().map(|e| e.id));
    found.unique("course_id", items.iter().map(|e| (e.user_id, e.course_id)));
    let users = owners_of(conn, Tenanted::Users, items.iter().map(|e| e.user_id)).await?;
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|e| e.course_id)).await?;
    for (index, enrollment) in items.iter_mut().enumerate() {
        let user = users.get(&enrollment.user_id);
        match courses.get(&enrollment.course_id) {
            Some(Some(org)) => {
                enrollment.organization_id = *org;
                found.belongs(index, "user_id", user, Some(*org), "user");
            }
            _ => {
                found.add(
                    index,
                    "course_id",
                    "no such course (or not visible to this token)",
                );
                if user.is_none() {
                    found.add(
                        index,
                        "user_id",
                        "no such user (or not visible to this token)",
                    );
                }
            }
        }
    }
    let ids: Vec<Uuid> = items.iter().map(|e| e.id).collect();
    let stored: HashMap<Uuid, (Uuid, Uuid)> = CatalogEnrollment::keys(conn, &ids)
        .await?
        .into_iter()
        .map(|(id, user, course)| (id, (user, course)))
        .collect();
    for (index, enrollment) in items.iter().enumerate() {
        if stored
            .get(&enrollment.id)
            .is_some_and(|key| *key != (enrollment.user_id, enrollment.course_id))
        {
            found.add(
                index,
                "id",
                "already names the enrollment of another user or course",
            );
        }
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = CatalogEnrollment::upsert(conn, &items)
        .await
        .map_err(|err| refused(ENROLLMENTS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|e| (e.user_id, e.course_id));
    Ok(summary(keys, &written, &HashSet::new()))
}

// ---------------------------------------------------------------------------
// Priority skills.

fn check_priority(
    skill: &pb::PrioritySkill,
    c: &mut Check<'_>,
) -> Result<NewOrgPrioritySkill, ApiError> {
    Ok(NewOrgPrioritySkill {
        organization_id: c.org("organization_id", &skill.organization_id)?,
        skill_id: c.id("skill_id", &skill.skill_id),
        weight: c.fraction("weight", skill.weight),
    })
}

async fn write_priorities(
    conn: &mut AsyncPgConnection,
    items: Vec<NewOrgPrioritySkill>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(PRIORITY_SKILLS);
    found.unique(
        "skill_id",
        items.iter().map(|p| (p.organization_id, p.skill_id)),
    );
    let orgs = items.iter().map(|p| p.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let skills = owners_of(conn, Tenanted::Skills, items.iter().map(|p| p.skill_id)).await?;
    for (index, priority) in items.iter().enumerate() {
        let owner = skills.get(&priority.skill_id);
        found.belongs(
            index,
            "skill_id",
            owner,
            Some(priority.organization_id),
            "skill",
        );
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = NewOrgPrioritySkill::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(PRIORITY_SKILLS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|p| (p.organization_id, p.skill_id));
    Ok(summary(keys, &written, &HashSet::new()))
}
