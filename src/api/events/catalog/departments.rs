//! UpsertDepartments: departments and the teams under them.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::DEPARTMENTS;
use super::check::{Check, Findings};
use super::write::{distinct, ensure_own, org_zones, owners_of, refused, summary};
use crate::api::ApiError;
use crate::db::models::Tenanted;
use crate::db::models::department::{DepartmentKey, NewDepartment};
use crate::proto::events::v1 as pb;

pub(super) struct DepartmentItem {
    id: Uuid,
    org: Uuid,
    parent_id: Option<Uuid>,
    kind: &'static str,
    name: String,
}

pub(super) fn check_department(
    dept: &pb::Department,
    c: &mut Check<'_>,
) -> Result<DepartmentItem, ApiError> {
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

pub(super) async fn write_departments(
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
pub(super) async fn check_sibling_names(
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
