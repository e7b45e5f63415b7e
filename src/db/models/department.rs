//! `departments`: departments and their teams.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::departments;

#[derive(Debug, Insertable)]
#[diesel(table_name = departments)]
pub struct NewDepartment<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: &'a str,
    pub name: &'a str,
}

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A stored department, as the catalogue checks need it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct DepartmentKey {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: String,
    pub name: String,
}

impl NewDepartment<'_> {
    /// Catalogue upsert by id (see `api::events::catalog`); a stored row of
    /// another organization is left alone. Returns `(id, inserted)` of the
    /// rows inserted or changed.
    pub async fn upsert_catalog(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, departments, rows,
            key: departments::id,
            guard: departments::organization_id.eq(excluded(departments::organization_id)),
            set: [parent_id, kind, name],
            returning: departments::id)
    }
}

impl DepartmentKey {
    /// The visible departments among `ids`.
    pub async fn find_all(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Self>> {
        departments::table
            .filter(departments::id.eq_any(ids))
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// The visible departments of `orgs` named one of `names` (sibling
    /// names are unique).
    pub async fn named(
        conn: &mut AsyncPgConnection,
        orgs: &[Uuid],
        names: &[&str],
    ) -> QueryResult<Vec<Self>> {
        departments::table
            .filter(departments::organization_id.eq_any(orgs))
            .filter(departments::name.eq_any(names))
            .select(Self::as_select())
            .load(conn)
            .await
    }
}
