//! What every catalogue write shares: the lookups its checks need, the
//! refusals of another organization's rows or of the database, and the
//! counts it answers.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::check::Findings;
use crate::api::ApiError;
use crate::db::models::organization::Organization;
use crate::db::models::{Tenanted, owners};
use crate::proto::events::v1 as pb;

/// The organizations the items name must exist; returns their time zones.
pub(super) async fn org_zones(
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
pub(super) async fn owners_of(
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

pub(super) fn distinct<K: Eq + Hash>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
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
pub(super) async fn ensure_own(
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
pub(super) fn refused(list: &str, err: diesel::result::Error) -> ApiError {
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
pub(super) fn summary<K: Eq + Hash>(
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
pub(super) fn changed_sets<C: Ord>(
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
