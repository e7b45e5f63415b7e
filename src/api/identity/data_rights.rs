//! ExportUserData and EraseUser (SPEC "Data lifecycle": a user's data can be
//! exported and erased on request). Both run in one transaction under the
//! caller's identity, so row-level security bounds them to what the caller
//! may see: the person themselves (export), their organization's admins,
//! platform admins.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{ApiError, AppState, caller_user, enforce, uuid_or};
use crate::auth::{AuthContext, Principal, Role};
use crate::db::data_rights::{self as db, PERSON_TABLES};
use crate::db::models::user::User;
use crate::domain::access;
use crate::proto::identity::v1 as pb;

/// Rows per export message.
const ROWS_PER_CHUNK: usize = 500;

/// The person `user_id` names (empty: the caller), checked against the
/// caller and visible to them: (person, organization).
async fn visible_person(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Uuid, ApiError> {
    User::home(conn, user)
        .await?
        .map(|(org, _)| org)
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
                    let rows = db::rows_as_json(conn, (table, column), user).await?;
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

fn chunk(section: &str, rows: &[String]) -> pb::ExportUserDataResponse {
    pb::ExportUserDataResponse {
        section: section.into(),
        json: format!("[{}]", rows.join(",")),
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
                let platform = db::is_platform_admin(conn, user).await?;
                let caller_is_platform = matches!(
                    principal,
                    Principal::User {
                        role: Role::PlatformAdmin,
                        ..
                    }
                );
                if platform && !caller_is_platform {
                    return Err(ApiError::PermissionDenied(
                        "only platform admins erase a platform admin".into(),
                    ));
                }
                let mut counts: HashMap<String, u64> = HashMap::new();
                for (_, table, column) in PERSON_TABLES {
                    let n = db::count_rows(conn, (table, column), user).await?;
                    if n > 0 {
                        counts.insert(table.to_string(), n as u64);
                    }
                }
                let named = db::unname_in_peer_events(conn, org, user).await?;
                if named > 0 {
                    counts.insert("learning_events (peers, anonymized)".into(), named as u64);
                }
                db::delete_person(conn, user).await?;
                let digest =
                    hex::encode(Sha256::digest(format!("stride-erasure:{user}").as_bytes()));
                let counts_json = serde_json::to_value(&counts)
                    .map_err(|e| ApiError::Internal(format!("erasure counts: {e}")))?;
                let audit = db::audit_erasure(conn, org, digest, actor, counts_json).await?;
                Ok(pb::EraseUserResponse {
                    rows_by_table: counts,
                    audit_id: audit.to_string(),
                })
            })
        })
        .await
}
