//! `users` and `user_roles`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{user_roles, users};

diesel::define_sql_function! {
    /// SQL lower(), for case-insensitive email matching (users_email_lower).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A person, as stored (the password hash is never selected here).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub avatar_url: Option<String>,
    pub time_zone: String,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<String>,
    pub is_active: bool,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: &'a str,
    pub full_name: &'a str,
    pub time_zone: &'a str,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_roles)]
pub struct NewUserRole<'a> {
    pub user_id: Uuid,
    pub role: &'a str,
    pub organization_id: Uuid,
}

/// Changes to a user; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub department_id: Option<Option<Uuid>>,
    pub team_id: Option<Option<Uuid>>,
    pub job_role: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
}

/// Filters of a user listing.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub organization_id: Option<Uuid>,
    pub role: Option<&'static str>,
    pub department_id: Option<Uuid>,
    pub include_inactive: bool,
    /// Keyset paging: ids strictly after this one.
    pub after: Option<Uuid>,
}

impl User {
    /// Inserts the user with `roles`; returns it as stored.
    pub async fn create(
        conn: &mut AsyncPgConnection,
        new: &NewUser<'_>,
        roles: &[&str],
    ) -> QueryResult<User> {
        let user: User = diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(conn)
            .await?;
        let rows: Vec<_> = roles
            .iter()
            .map(|role| NewUserRole {
                user_id: user.id,
                role,
                organization_id: user.organization_id,
            })
            .collect();
        diesel::insert_into(user_roles::table)
            .values(&rows)
            .execute(conn)
            .await?;
        Ok(user)
    }

    /// The user with `id`, if the transaction's identity may see it.
    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The person's organization and time zone name.
    pub async fn home(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(Uuid, String)>> {
        users::table
            .find(id)
            .select((users::organization_id, users::time_zone))
            .first(conn)
            .await
            .optional()
    }

    /// The ids of every user (of `org` only, when given), in order.
    pub async fn ids(conn: &mut AsyncPgConnection, org: Option<Uuid>) -> QueryResult<Vec<Uuid>> {
        let mut query = users::table.select(users::id).order(users::id).into_boxed();
        if let Some(org) = org {
            query = query.filter(users::organization_id.eq(org));
        }
        query.load(conn).await
    }

    /// (lower-cased email, id) of the organization's people whose email,
    /// lower-cased, is one of `lowered` (the users_email_lower index).
    pub async fn ids_by_email(
        conn: &mut AsyncPgConnection,
        org: Uuid,
        lowered: &[String],
    ) -> QueryResult<Vec<(String, Uuid)>> {
        users::table
            .filter(users::organization_id.eq(org))
            .filter(lower(users::email).eq_any(lowered))
            .select((lower(users::email), users::id))
            .load(conn)
            .await
    }

    /// Up to `limit` users matching `filter`, ordered by id.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &UserFilter,
        limit: i64,
    ) -> QueryResult<Vec<User>> {
        let mut query = users::table.select(User::as_select()).into_boxed();
        if let Some(org) = filter.organization_id {
            query = query.filter(users::organization_id.eq(org));
        }
        if let Some(dept) = filter.department_id {
            query = query.filter(users::department_id.eq(dept).or(users::team_id.eq(dept)));
        }
        if !filter.include_inactive {
            query = query.filter(users::is_active.eq(true));
        }
        if let Some(role) = filter.role {
            let holders = user_roles::table
                .filter(user_roles::role.eq(role))
                .select(user_roles::user_id);
            query = query.filter(users::id.eq_any(holders));
        }
        if let Some(after) = filter.after {
            query = query.filter(users::id.gt(after));
        }
        query.order(users::id.asc()).limit(limit).load(conn).await
    }

    /// Roles held by each of `ids`, as (user id, role name).
    pub async fn roles_of(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, String)>> {
        user_roles::table
            .filter(user_roles::user_id.eq_any(ids))
            .select((user_roles::user_id, user_roles::role))
            .order((user_roles::user_id, user_roles::role))
            .load(conn)
            .await
    }

    /// Applies `changes`; `None` when the user is not visible.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        changes: &UserChanges,
    ) -> QueryResult<Option<User>> {
        diesel::update(users::table.find(id))
            .set((changes, users::updated_at.eq(diesel::dsl::now)))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Deactivates the user (a no-op when already inactive); returns it as
    /// stored, `None` when not visible.
    pub async fn deactivate(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
        diesel::update(users::table.find(id))
            .set((
                users::is_active.eq(false),
                users::deactivated_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("coalesce(deactivated_at, now())")),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Grants `role` (no-op when held).
    pub async fn grant(conn: &mut AsyncPgConnection, user: &User, role: &str) -> QueryResult<()> {
        diesel::insert_into(user_roles::table)
            .values(NewUserRole {
                user_id: user.id,
                role,
                organization_id: user.organization_id,
            })
            .on_conflict_do_nothing()
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Revokes `role`; returns whether it was held.
    pub async fn revoke(conn: &mut AsyncPgConnection, id: Uuid, role: &str) -> QueryResult<bool> {
        diesel::delete(
            user_roles::table
                .filter(user_roles::user_id.eq(id))
                .filter(user_roles::role.eq(role)),
        )
        .execute(conn)
        .await
        .map(|n| n > 0)
    }
}

/// Roles the catalogue manages; admin roles are granted through
/// IdentityService and never touched by an upsert.
pub const CATALOG_ROLES: [&str; 2] = ["learner", "trainer"];

/// The account holding an email address, whichever organization it is in.
#[derive(Debug, QueryableByName)]
pub struct EmailHolder {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub email: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
}

impl User {
    /// Catalogue upsert by id (see `api::events::catalog`): the profile
    /// columns follow the row given; `organization_id`, the password, the
    /// avatar and the active flag are never changed by it, and a stored row
    /// of another organization is left alone. Returns `(id, inserted)` of
    /// the rows inserted or changed.
    pub async fn upsert_catalog(
        conn: &mut AsyncPgConnection,
        rows: &[NewUser<'_>],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, users, rows,
            key: users::id,
            guard: users::organization_id.eq(excluded(users::organization_id)),
            set: [email, full_name, time_zone, department_id, team_id, job_role],
            returning: users::id)
    }

    /// Who holds each of `emails` (case-insensitively), across every
    /// organization: the addresses are unique platform-wide, and row-level
    /// security would hide the holders outside the caller's organization.
    /// Uses the login lookup (`stride_auth_user`, SECURITY DEFINER) and
    /// reads nothing from it but the account id.
    pub async fn email_holders(
        conn: &mut AsyncPgConnection,
        emails: &[String],
    ) -> QueryResult<Vec<EmailHolder>> {
        diesel::sql_query(
            "SELECT e.email, a.id FROM unnest($1::text[]) AS e(email) \
             CROSS JOIN LATERAL stride_auth_user(e.email) AS a",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(emails)
        .load(conn)
        .await
    }

    /// Grants each (user, role) of `rows` (no-op where held).
    pub async fn grant_all(
        conn: &mut AsyncPgConnection,
        rows: &[NewUserRole<'_>],
    ) -> QueryResult<usize> {
        diesel::insert_into(user_roles::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
    }

    /// Revokes `role` from each of `ids`.
    pub async fn revoke_all(
        conn: &mut AsyncPgConnection,
        role: &str,
        ids: &[Uuid],
    ) -> QueryResult<usize> {
        diesel::delete(
            user_roles::table
                .filter(user_roles::role.eq(role))
                .filter(user_roles::user_id.eq_any(ids)),
        )
        .execute(conn)
        .await
    }
}
