//! ExportUserData and EraseUser (SPEC "Data lifecycle": a user's data can be
//! exported and erased on request). Both run in one transaction under the
//! caller's identity, so row-level security bounds them to what the caller
//! may see: the person themselves (export), their organization's admins,
//! platform admins.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{ApiError, AppState, caller_user, enforce, uuid_or};
use crate::auth::{AuthContext, Principal, Role};
use crate::domain::access;
use crate::proto::identity::v1 as pb;

/// Every table holding rows about one person: (export section, table, the
/// person's column). Token tables are left out of exports (secrets) and
/// removed by the erasure's cascade. A new person table must be added here;
/// the erasure test checks every table with a user_id column.
const PERSON_TABLES: [(&str, &str, &str); 14] = [
    ("user", "users", "id"),
    ("roles", "user_roles", "user_id"),
    ("preferences", "user_preferences", "user_id"),
    ("enrollments", "enrollments", "user_id"),
    ("events", "learning_events", "user_id"),
    ("event_receipts", "event_receipts", "user_id"),
    ("assessments", "assessments", "user_id"),
    ("skills", "user_skills", "user_id"),
    ("daily_activity", "daily_activity", "user_id"),
    ("ledger", "point_transactions", "user_id"),
    ("points", "user_points", "user_id"),
    ("achievements", "user_achievements", "user_id"),
    ("streak_freezes", "streak_freeze_events", "user_id"),
    ("analytics", "analytics_cache", "user_id"),
];

/// Rows per export message.
const ROWS_PER_CHUNK: usize = 500;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The person `user_id` names (empty: the caller), checked against the
/// caller and visible to them: (person, organization).
async fn visible_person(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Uuid, ApiError> {
    use crate::db::schema::users;
    use diesel::{OptionalExtension, QueryDsl};
    users::table
        .find(user)
        .select(users::organization_id)
        .first::<Uuid>(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("user {user}")))
}

/// Everything Stride holds on a person, section by section, as JSON arrays
/// of at most 500 rows (password hashes left out). The last message says so.
pub async fn export(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::ExportUserDataRequest,
) -> Result<Vec<pb::ExportUserDataResponse>, ApiError> {
    let user = uuid_or("user_id", &req.user_id, caller_user(&ctx.principal))?;
    enforce(access::change_person_settings(&ctx.principal, user))?;
    let mut chunks = state
        .tx(ctx, move |conn| {
            Box::pin(async move {
                visible_person(conn, user).await?;
                let mut chunks = Vec::new();
                for (section, table, column) in PERSON_TABLES {
                    // Table and column names come from the constant list.
                    let rows: Vec<Row> = diesel::sql_query(format!(
                        "SELECT (to_jsonb(t) - 'password_hash')::text AS row FROM {table} t WHERE t.{column} = $1"
                    ))
                    .bind::<diesel::sql_types::Uuid, _>(user)
                    .load(conn)
                    .await?;
                    if rows.is_empty() {
                        chunks.push(chunk(section, &[]));
                    }
                    for part in rows.chunks(ROWS_PER_CHUNK) {
                        chunks.push(chunk(section, part));
                    }
                }
                Ok(chunks)
            })
        })
        .await?;
    if let Some(last) = chunks.last_mut() {
        last.last = true;
    }
    Ok(chunks)
}

fn chunk(section: &str, rows: &[Row]) -> pb::ExportUserDataResponse {
    let body: Vec<&str> = rows.iter().map(|r| r.row.as_str()).collect();
    pb::ExportUserDataResponse {
        section: section.into(),
        json: format!("[{}]", body.join(",")),
        last: false,
    }
}

/// Erases a person: their rows in every person table go (one delete of the
/// user row, cascading), their receipts keep only the idempotency key, peers'
/// events stop naming them, and an audit row records who asked and how many
/// rows went, with a digest of the id instead of the id.
pub async fn erase(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::EraseUserRequest,
) -> Result<pb::EraseUserResponse, ApiError> {
    let user = uuid_or("user_id", &req.user_id, None)?;
    if req.confirm_user_id != req.user_id {
        return Err(ApiError::invalid(
            "confirm_user_id",
            "must repeat user_id exactly (a guard against erasing the wrong person)",
        ));
    }
    let principal = ctx.principal.clone();
    let actor = match &principal {
        Principal::User { role, .. } => role.as_str(),
        Principal::Service { .. } => "service",
    };
    state
        .tx(ctx, move |conn| {
            Box::pin(async move {
                let org = visible_person(conn, user).await?;
                enforce(access::administer_org(&principal, org))?;
                let platform: Count = diesel::sql_query(
                    "SELECT count(*) AS n FROM user_roles WHERE user_id = $1 AND role = 'platform_admin'",
                )
                .bind::<diesel::sql_types::Uuid, _>(user)
                .get_result(conn)
                .await?;
                let caller_is_platform = matches!(
                    principal,
                    Principal::User {
                        role: Role::PlatformAdmin,
                        ..
                    }
                );
                if platform.n > 0 && !caller_is_platform {
                    return Err(ApiError::PermissionDenied(
                        "only platform admins erase a platform admin".into(),
                    ));
                }
                let mut counts: HashMap<String, u64> = HashMap::new();
                for (_, table, column) in PERSON_TABLES {
                    let c: Count = diesel::sql_query(format!(
                        "SELECT count(*) AS n FROM {table} WHERE {column} = $1"
                    ))
                    .bind::<diesel::sql_types::Uuid, _>(user)
                    .get_result(conn)
                    .await?;
                    if c.n > 0 {
                        counts.insert(table.to_string(), c.n as u64);
                    }
                }
                // Peers' "helped <person>" events keep the help, not the name.
                let named = diesel::sql_query(
                    "UPDATE learning_events SET payload = payload - 'peer_user_id' \
                     WHERE organization_id = $1 AND kind = 'peer_helped' AND payload->>'peer_user_id' = $2",
                )
                .bind::<diesel::sql_types::Uuid, _>(org)
                .bind::<Text, _>(user.to_string())
                .execute(conn)
                .await?;
                if named > 0 {
                    counts.insert("learning_events (peers, anonymized)".into(), named as u64);
                }
                diesel::sql_query("DELETE FROM revoked_tokens WHERE subject = $1")
                    .bind::<Text, _>(user.to_string())
                    .execute(conn)
                    .await?;
                // Everything else cascades from the user row; receipts keep
                // their key with the person set to NULL.
                diesel::sql_query("DELETE FROM users WHERE id = $1")
                    .bind::<diesel::sql_types::Uuid, _>(user)
                    .execute(conn)
                    .await?;
                let digest = hex::encode(Sha256::digest(format!("stride-erasure:{user}").as_bytes()));
                let counts_json = serde_json::to_value(&counts)
                    .map_err(|e| ApiError::Internal(format!("erasure counts: {e}")))?;
                #[derive(QueryableByName)]
                struct Id {
                    #[diesel(sql_type = diesel::sql_types::Uuid)]
                    id: Uuid,
                }
                let audit: Id = diesel::sql_query(
                    "INSERT INTO erasure_audit (organization_id, subject_digest, actor_role, counts) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind::<diesel::sql_types::Uuid, _>(org)
                .bind::<Text, _>(digest)
                .bind::<Text, _>(actor)
                .bind::<diesel::sql_types::Jsonb, _>(counts_json)
                .get_result(conn)
                .await?;
                Ok(pb::EraseUserResponse {
                    rows_by_table: counts,
                    audit_id: audit.id.to_string(),
                })
            })
        })
        .await
}
