//! Login, refresh-token rotation, logout and service tokens: the handlers'
//! bodies, kept apart from the account administration in `service.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::mapping;
use crate::api::{ApiError, AppState};
use crate::auth::{AuthContext, Role, Scope, Subject, password};
use crate::db::tenant::{Begin, DbIdentity, transaction};
use crate::db::{self, Lease};
use crate::proto::identity::v1 as pb;
use diesel_async::AsyncPgConnection;

/// The same wording for an unknown email, a wrong password and a
/// deactivated account, so that login reveals nothing.
const BAD_LOGIN: &str = "invalid email or password";
/// Longest service-token lifetime an admin may ask for.
const MAX_SERVICE_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
const DEFAULT_SERVICE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A hash to verify against when the account does not exist, so that a
/// miss costs the same time as a wrong password.
async fn dummy_hash() -> Result<&'static String, ApiError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| password::hash("stride-timing-equalizer".into()))
        .await
        .map_err(ApiError::from)
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_refresh_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn expires(ttl: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1))
}

fn timestamp_of(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// The role to act under: the one asked for (must be held), else the least
/// privileged one held.
fn active_role(held: &[Role], requested: i32) -> Result<Role, ApiError> {
    match requested {
        0 => held
            .iter()
            .min()
            .copied()
            .ok_or_else(|| ApiError::PermissionDenied("the account holds no role".into())),
        value => {
            let role = mapping::role_from_proto("role", value)?;
            if held.contains(&role) {
                Ok(role)
            } else {
                Err(ApiError::PermissionDenied(format!(
                    "the role {role} is not held"
                )))
            }
        }
    }
}

fn parse_roles(names: &[String]) -> Vec<Role> {
    names.iter().filter_map(|r| r.parse().ok()).collect()
}

/// A signed access token for `user` acting as `role`, and its expiry.
fn access_token(
    state: &AppState,
    user_id: Uuid,
    org_id: Uuid,
    roles: Vec<Role>,
    role: Role,
) -> Result<(String, prost_types::Timestamp), ApiError> {
    let (token, claims) = state
        .keys
        .issue(
            &Subject::User {
                user_id,
                org_id,
                roles,
                active: Some(role),
            },
            state.tokens.access,
        )
        .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))?;
    Ok((token, timestamp_of(claims.exp)))
}

pub async fn login(state: &AppState, req: pb::LoginRequest) -> Result<pb::LoginResponse, ApiError> {
    let email = req.email.trim().to_string();
    if email.is_empty() || email.len() > 254 {
        return Err(ApiError::invalid(
            "email",
            "is required (at most 254 characters)",
        ));
    }
    if crate::domain::has_nul(&email) {
        return Err(ApiError::InvalidArgument(vec![
            crate::domain::FieldViolation::nul("email"),
        ]));
    }
    if req.password.is_empty() || req.password.len() > 1024 {
        return Err(ApiError::invalid(
            "password",
            "is required (at most 1024 bytes)",
        ));
    }
    // A lease, so that a call cut off mid-transaction closes its connection.
    let mut conn = Lease::get(&state.pool).await?;
    let result = login_checked(state, &req, email, &mut conn).await;
    conn.finish();
    result
}

/// [`login`] once the request's fields are known to be well formed.
async fn login_checked(
    state: &AppState,
    req: &pb::LoginRequest,
    email: String,
    conn: &mut AsyncPgConnection,
) -> Result<pb::LoginResponse, ApiError> {
    let account = db::auth::credentials(conn, &email).await?;
    let stored = account
        .as_ref()
        .filter(|a| a.is_active)
        .and_then(|a| a.password_hash.clone());
    let matches = match stored {
        Some(hash) => password::verify(req.password.clone(), hash).await,
        None => {
            password::verify(req.password.clone(), dummy_hash().await?.clone()).await;
            false
        }
    };
    let account = match account {
        Some(account) if matches => account,
        _ => return Err(ApiError::Unauthenticated(BAD_LOGIN.into())),
    };
    let roles = parse_roles(&account.roles);
    let role = active_role(&roles, req.role)?;
    let (access, access_expires) =
        access_token(state, account.id, account.organization_id, roles, role)?;
    let refresh = new_refresh_token();
    let refresh_expires = expires(state.tokens.refresh);
    let identity = DbIdentity::user(account.id, account.organization_id, role);
    let refresh_hash = sha256(&refresh);
    let user = transaction(conn, Begin::writing(&identity), |conn| {
        Box::pin(async move {
            db::auth::store_refresh_token(conn, account.id, &refresh_hash, refresh_expires).await?;
            let user = super::service::visible_user(conn, account.id).await?;
            super::service::user_reply(conn, user).await
        })
    })
    .await?;
    tracing::info!(user.id = %account.id, auth.role = %role, "login");
    Ok(pb::LoginResponse {
        access_token: access,
        access_token_expires_at: Some(access_expires),
        refresh_token: refresh,
        refresh_token_expires_at: Some(mapping::timestamp(refresh_expires)),
        active_role: mapping::role_to_proto(role) as i32,
        user: Some(user),
    })
}

pub async fn refresh(
    state: &AppState,
    req: pb::RefreshTokenRequest,
) -> Result<pb::RefreshTokenResponse, ApiError> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 256 {
        return Err(ApiError::invalid("refresh_token", "is required"));
    }
    let next = new_refresh_token();
    let next_expires = expires(state.tokens.refresh);
    let mut conn = Lease::get(&state.pool).await?;
    let result = refresh_on(state, &req, next, next_expires, &mut conn).await;
    conn.finish();
    result
}

/// [`refresh`] with the next token chosen, on `conn`.
async fn refresh_on(
    state: &AppState,
    req: &pb::RefreshTokenRequest,
    next: String,
    next_expires: DateTime<Utc>,
    conn: &mut AsyncPgConnection,
) -> Result<pb::RefreshTokenResponse, ApiError> {
    let invalid = || ApiError::Unauthenticated("refresh token invalid, expired or revoked".into());
    // One statement, committed on its own: a detected reuse must revoke the
    // family even though this call fails.
    let user_id = db::auth::rotate_refresh_token(
        conn,
        &sha256(&req.refresh_token),
        &sha256(&next),
        next_expires,
    )
    .await?
    .ok_or_else(invalid)?;
    let status = db::auth::token_status(conn, user_id, Uuid::nil())
        .await?
        .filter(|s| s.is_active)
        .ok_or_else(invalid)?;
    let roles = parse_roles(&status.roles);
    let role = active_role(&roles, req.role)?;
    let (access, access_expires) =
        access_token(state, user_id, status.organization_id, roles, role)?;
    Ok(pb::RefreshTokenResponse {
        access_token: access,
        access_token_expires_at: Some(access_expires),
        refresh_token: next,
        refresh_token_expires_at: Some(mapping::timestamp(next_expires)),
        active_role: mapping::role_to_proto(role) as i32,
    })
}

pub async fn logout(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::LogoutRequest,
) -> Result<pb::LogoutResponse, ApiError> {
    let jti = ctx.claims.jti;
    let subject = ctx.claims.sub.clone();
    let expires_at = DateTime::from_timestamp(ctx.claims.exp, 0).unwrap_or_else(Utc::now);
    let refresh_hash = (!req.refresh_token.is_empty()).then(|| sha256(&req.refresh_token));
    state
        .tx(ctx, |conn| {
            Box::pin(async move {
                db::auth::revoke_access_token(conn, jti, &subject, expires_at).await?;
                if let Some(hash) = refresh_hash {
                    db::auth::revoke_refresh_family(conn, &hash).await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(pb::LogoutResponse {})
}

pub fn issue_service_token(
    state: &AppState,
    req: &pb::IssueServiceTokenRequest,
) -> Result<pb::IssueServiceTokenResponse, ApiError> {
    let name = req.service_name.as_str();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::invalid(
            "service_name",
            "1-64 letters, digits, '-' or '_'",
        ));
    }
    let scopes = req
        .scopes
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::invalid("scopes", e.to_string()))?;
    if scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "at least one of events:write, catalog:write",
        ));
    }
    let org_id = match req.organization_id.as_str() {
        "" => None,
        id => Some(
            Uuid::parse_str(id)
                .map_err(|_| ApiError::invalid("organization_id", "must be a UUID"))?,
        ),
    };
    let ttl = match req.ttl_seconds {
        0 => DEFAULT_SERVICE_TTL,
        s if Duration::from_secs(u64::from(s)) <= MAX_SERVICE_TTL => {
            Duration::from_secs(u64::from(s))
        }
        _ => return Err(ApiError::invalid("ttl_seconds", "at most one year")),
    };
    let (token, claims) = state
        .keys
        .issue(
            &Subject::Service {
                name: name.to_string(),
                org_id,
                scopes,
            },
            ttl,
        )
        .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))?;
    Ok(pb::IssueServiceTokenResponse {
        token,
        expires_at: Some(timestamp_of(claims.exp)),
        token_id: claims.jti.to_string(),
    })
}
