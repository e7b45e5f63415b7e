//! UpsertUsers: catalogue people, their groups and learner/trainer roles.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::USERS;
use super::check::{Check, Findings};
use super::write::{distinct, ensure_own, org_zones, refused, summary};
use crate::api::ApiError;
use crate::db::models::Tenanted;
use crate::db::models::department::DepartmentKey;
use crate::db::models::organization::known_time_zones;
use crate::db::models::user::{CATALOG_ROLES, NewUser, NewUserRole, User};
use crate::domain::fields;
use crate::proto::events::v1 as pb;

pub(super) struct UserItem {
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

pub(super) fn check_user(user: &pb::CatalogUser, c: &mut Check<'_>) -> Result<UserItem, ApiError> {
    let org = c.org("organization_id", &user.organization_id)?;
    // The rule of IdentityService's CreateUser: the address trimmed.
    let email = match fields::email(&user.email) {
        Ok(email) => email.to_string(),
        Err(why) => {
            c.fail("email", why);
            user.email.clone()
        }
    };
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
        email,
        full_name: c.text("full_name", &user.full_name, 0, 200),
        time_zone: (!user.time_zone.is_empty()).then(|| user.time_zone.clone()),
        department_id: c.optional_id("department_id", &user.department_id),
        team_id: c.optional_id("team_id", &user.team_id),
        job_role: c.optional_text("job_role", &user.job_role, 100),
        roles,
    })
}

pub(super) async fn write_users(
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
pub(super) async fn check_time_zones(
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
pub(super) async fn check_groups(
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
pub(super) async fn check_emails(
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
pub(super) async fn set_roles(
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
