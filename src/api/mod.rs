//! The gRPC services. Each module has `service.rs` (the tonic trait impl,
//! thin handlers) and `mapping.rs` (proto <-> domain). Errors go through
//! [`error::ApiError`].

pub mod analytics;
pub mod error;
pub mod events;
pub mod gamification;
pub mod identity;
pub mod paging;
pub mod timestamp;

use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use tonic::Request;
use uuid::Uuid;

use crate::auth::{AuthContext, TokenKeys};
use crate::db::replica::ReadRouter;
use crate::db::tenant::{self, Begin, DbIdentity};
use crate::db::{Lease, PgPool};
use crate::domain::access::Verdict;
pub use analytics::AnalyticsApi;
pub use error::ApiError;
pub use events::EventApi;
pub use gamification::GamificationApi;
pub use identity::IdentityApi;

/// Handles every service shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Where read-only transactions run: a streaming replica when one is
    /// configured and close enough behind, else `pool`.
    pub reads: Arc<ReadRouter>,
    pub keys: Arc<TokenKeys>,
    pub tokens: TokenLifetimes,
    /// One computation at a time per cold analytics entry.
    pub flights: Arc<analytics::Flights>,
    /// Counters and latencies for the metrics endpoint.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// How long issued tokens live.
#[derive(Clone, Copy, Debug)]
pub struct TokenLifetimes {
    pub access: std::time::Duration,
    pub refresh: std::time::Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access: std::time::Duration::from_secs(15 * 60),
            refresh: std::time::Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl AppState {
    /// Runs `work` in one transaction under the caller's identity (so
    /// row-level security sees who asks); its BEGIN also checks a person's
    /// token when that is still due.
    pub async fn tx<T>(
        &self,
        ctx: &AuthContext,
        work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let mut conn = Lease::get(&self.pool).await?;
        let result = as_caller(&mut conn, ctx, Mode::Write, work).await;
        conn.finish();
        result
    }

    /// [`AppState::tx`] for reads that tolerate the replica's lag (bounded
    /// by `STRIDE_READ_MAX_LAG_MS`): a READ ONLY transaction on the read
    /// replica when one is in use, else on the primary.
    pub async fn read_tx<T>(
        &self,
        ctx: &AuthContext,
        work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let (pool, on_primary) = self.reads.route();
        let mut conn = Lease::get(pool).await?;
        // A replica may not have replayed a revocation yet: the token is
        // checked on the primary (by the auth layer) instead.
        let mode = if on_primary {
            Mode::Read
        } else {
            Mode::ReadOnReplica
        };
        let result = as_caller(&mut conn, ctx, mode, work).await;
        conn.finish();
        result
    }
}

/// How a caller's transaction runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Read,
    /// On the read replica, which may not have replayed a revocation yet:
    /// the token is not checked there (the auth layer checks it on the
    /// primary).
    ReadOnReplica,
}

/// Runs `work` in one transaction under the caller's identity, checking
/// a person's token in the same round trip when its check is still due
/// (and the transaction is on the primary); the outcome is recorded in the
/// caller's context for the auth layer.
async fn as_caller<T>(
    conn: &mut AsyncPgConnection,
    ctx: &AuthContext,
    mode: Mode,
    work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let identity = DbIdentity::from(&ctx.principal);
    let record = |outcome| ctx.token.record(outcome);
    let assertion = (mode != Mode::ReadOnReplica)
        .then(|| ctx.pending_assertion())
        .flatten()
        .map(|a| (a, &record as tenant::Checked<'_>));
    let begin = Begin {
        identity: &identity,
        read_only: mode != Mode::Write,
        assertion,
    };
    tenant::transaction(conn, begin, work).await
}

/// Turns a refusal of the access rules into PERMISSION_DENIED.
pub fn enforce(verdict: Verdict) -> Result<(), ApiError> {
    match verdict {
        Verdict::Allow | Verdict::WithinScope => Ok(()),
        Verdict::Deny(reason) => Err(ApiError::PermissionDenied(reason.into())),
    }
}

/// Parses a UUID field; empty means `default` (usually the caller).
pub fn uuid_or(field: &str, value: &str, default: Option<Uuid>) -> Result<Uuid, ApiError> {
    if value.is_empty() {
        return default.ok_or_else(|| ApiError::invalid(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

/// The person calling, `None` for a service token.
pub fn caller_user(principal: &crate::auth::Principal) -> Option<Uuid> {
    match principal {
        crate::auth::Principal::User { user_id, .. } => Some(*user_id),
        crate::auth::Principal::Service { .. } => None,
    }
}

/// The verified caller the auth layer attached to `request`. Its absence on
/// a non-public method is a wiring bug, reported as INTERNAL, never as a
/// silent anonymous call.
pub fn caller<T>(request: &Request<T>) -> Result<&AuthContext, ApiError> {
    request
        .extensions()
        .get::<AuthContext>()
        .ok_or_else(|| ApiError::Internal("auth context missing on an authenticated method".into()))
}
