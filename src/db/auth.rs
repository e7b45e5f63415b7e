//! Token and credential bookkeeping. The lookups that run before a request
//! has an identity go through the SECURITY DEFINER functions of migration
//! `create_auth_functions` (diesel cannot call set-returning functions, so
//! these few are SQL); the writes are diesel DSL under the caller's identity.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{refresh_tokens, revoked_tokens};

/// What login needs of an account.
#[derive(Debug, QueryableByName)]
pub struct Credentials {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub password_hash: Option<String>,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    #[diesel(sql_type = Array<Text>)]
    pub roles: Vec<String>,
}

/// The current state behind a user's token.
#[derive(Debug, QueryableByName)]
pub struct TokenStatus {
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: Uuid,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    #[diesel(sql_type = Bool)]
    pub revoked: bool,
    #[diesel(sql_type = Array<Text>)]
    pub roles: Vec<String>,
}

pub async fn credentials(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<Credentials>> {
    diesel::sql_query("SELECT * FROM stride_auth_user($1)")
        .bind::<Text, _>(email)
        .get_result(conn)
        .await
        .optional()
}

pub async fn token_status(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    jti: Uuid,
) -> QueryResult<Option<TokenStatus>> {
    diesel::sql_query("SELECT * FROM stride_token_status($1, $2)")
        .bind::<SqlUuid, _>(user_id)
        .bind::<SqlUuid, _>(jti)
        .get_result(conn)
        .await
        .optional()
}

diesel::define_sql_function! {
    /// NULL while a person's token works, else why not (migration
    /// `create_token_assertion`).
    fn stride_token_refusal(user_id: SqlUuid, jti: SqlUuid, org_id: SqlUuid, role: Text) -> Nullable<Text>;
}

/// Why a person's token acting under `role` no longer works, `None` while
/// it does. A DSL query, so the connection keeps it prepared.
pub async fn token_refusal(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    jti: Uuid,
    org_id: Uuid,
    role: &str,
) -> QueryResult<Option<String>> {
    diesel::select(stride_token_refusal(user_id, jti, org_id, role))
        .get_result(conn)
        .await
}

/// Whether a token id is on the deny-list (service tokens, logouts).
pub async fn is_revoked(conn: &mut AsyncPgConnection, jti: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(revoked_tokens::table.find(jti)))
        .get_result(conn)
        .await
}

/// Puts an access token on the deny-list until it would expire anyway.
pub async fn revoke_access_token(
    conn: &mut AsyncPgConnection,
    jti: Uuid,
    subject: &str,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::subject.eq(subject),
            revoked_tokens::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|_| ())
}

/// Stores a new refresh token (its hash) starting a rotation family.
pub async fn store_refresh_token(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::family_id.eq(Uuid::new_v4()),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Rotates a refresh token; `None` when it is unknown, expired or revoked
/// (reuse of a rotated token revokes its family: commit even then).
pub async fn rotate_refresh_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    new_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<Option<Uuid>> {
    #[derive(QueryableByName)]
    struct Rotated {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        user_id: Option<Uuid>,
    }
    diesel::sql_query("SELECT stride_rotate_refresh_token($1, $2, $3) AS user_id")
        .bind::<Bytea, _>(token_hash)
        .bind::<Bytea, _>(new_hash)
        .bind::<Timestamptz, _>(expires_at)
        .get_result::<Rotated>(conn)
        .await
        .map(|r| r.user_id)
}

/// Revokes the caller's refresh-token family the given token belongs to.
pub async fn revoke_refresh_family(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<usize> {
    let family: Option<Uuid> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(refresh_tokens::family_id)
        .first(conn)
        .await
        .optional()?;
    let Some(family) = family else {
        return Ok(0);
    };
    diesel::update(refresh_tokens::table.filter(refresh_tokens::family_id.eq(family)))
        .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
}
