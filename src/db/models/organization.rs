//! `organizations`: tenants.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::organizations;

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub domain: Option<&'a str>,
    pub time_zone: &'a str,
    /// `None`: the column default (`{}`).
    pub settings: Option<&'a serde_json::Value>,
}

/// A tenant, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub time_zone: String,
    pub settings: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Organization {
    /// Inserts the organization and returns it as stored.
    pub async fn create(
        conn: &mut AsyncPgConnection,
        new: &NewOrganization<'_>,
    ) -> QueryResult<Organization> {
        diesel::insert_into(organizations::table)
            .values(new)
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Organization>> {
        organizations::table
            .find(id)
            .select(Organization::as_select())
            .first(conn)
            .await
            .optional()
    }
}

/// Changes to an organization; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = organizations)]
pub struct OrganizationChanges {
    pub name: Option<String>,
    pub domain: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub settings: Option<serde_json::Value>,
}

impl Organization {
    /// Applies `changes`; `None` when the organization is not visible.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        changes: &OrganizationChanges,
    ) -> QueryResult<Option<Organization>> {
        diesel::update(organizations::table.find(id))
            .set((changes, organizations::updated_at.eq(diesel::dsl::now)))
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Up to `limit` organizations after `after`, by id.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        after: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<Organization>> {
        let mut query = organizations::table
            .select(Organization::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(organizations::id.gt(after));
        }
        query
            .order(organizations::id.asc())
            .limit(limit)
            .load(conn)
            .await
    }
}

impl Organization {
    /// The stored time zone name of `org`; `None` when the caller cannot
    /// see the organization.
    pub async fn time_zone(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Option<String>> {
        organizations::table
            .find(org)
            .select(organizations::time_zone)
            .first(conn)
            .await
            .optional()
    }

    /// `(id, time_zone)` of the visible organizations among `ids`.
    pub async fn zones(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, String)>> {
        organizations::table
            .filter(organizations::id.eq_any(ids))
            .select((organizations::id, organizations::time_zone))
            .load(conn)
            .await
    }
}

/// The names among `names` that are valid IANA zones (the `time_zones`
/// reference table).
pub async fn known_time_zones(
    conn: &mut AsyncPgConnection,
    names: &[&str],
) -> QueryResult<Vec<String>> {
    use crate::db::schema::time_zones;
    time_zones::table
        .filter(time_zones::name.eq_any(names))
        .select(time_zones::name)
        .load(conn)
        .await
}
