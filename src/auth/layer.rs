//! The tower layer in front of every service: verifies the bearer token once,
//! picks the active role, checks the method's policy, and hands the verified
//! caller to handlers through request extensions. The token's database
//! check (`token_check`) runs before a service's call; for a person it runs
//! with the call's first transaction, and the answer is held until it is
//! known. A tonic interceptor cannot do this: it does not see which method
//! is called.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use http::HeaderMap;
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};
use uuid::Uuid;

use super::context::{AuthContext, Principal};
use super::jwt::{Claims, TokenKeys};
use super::policy::{Access, policy_for};
use super::token_check::{Answer, Refusal};
use super::verdicts::{self, Join, Lead, Ticket, VerdictKey, Verdicts};
use crate::db::{self, PgPool};
use crate::domain::role::Role;
use crate::metrics::{Metrics, TokenVerdict};

/// Metadata key a caller uses to act under another of its roles.
pub const ROLE_HEADER: &str = "x-stride-role";

/// Builds [`AuthService`]s sharing one set of keys, the pool used to
/// check that a token is still good (user active, token not revoked, role
/// still held), and the good verdicts of the last `fresh_for`.
#[derive(Clone)]
pub struct AuthLayer {
    keys: Arc<TokenKeys>,
    pool: PgPool,
    verdicts: Arc<Verdicts>,
    metrics: Arc<Metrics>,
}

impl AuthLayer {
    pub fn new(
        keys: Arc<TokenKeys>,
        pool: PgPool,
        fresh_for: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            keys,
            pool,
            verdicts: Arc::new(Verdicts::new(fresh_for)),
            metrics,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            keys: self.keys.clone(),
            pool: self.pool.clone(),
            verdicts: self.verdicts.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// See the module docs.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    keys: Arc<TokenKeys>,
    pool: PgPool,
    verdicts: Arc<Verdicts>,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path();
        let writes_identity = verdicts::writes_identity(path);
        match authorize(&self.keys, path, req.headers()) {
            Ok(Some(ctx)) => {
                let pool = self.pool.clone();
                let verdicts = self.verdicts.clone();
                let metrics = self.metrics.clone();
                Box::pin(async move {
                    let key = match ctx.assertion() {
                        Some(person) => VerdictKey::Person(person),
                        None => VerdictKey::Service(ctx.claims.jti),
                    };
                    // A verdict found good in the last second stands;
                    // otherwise the check below runs and may be kept.
                    let ticket = verdicts.lookup(key, Instant::now()).err();
                    let alone = Alone {
                        pool: &pool,
                        verdicts: &verdicts,
                        metrics: &metrics,
                    };
                    let response = match (ticket, ctx.principal.role()) {
                        (None, _) => {
                            metrics.token_verdict(TokenVerdict::Memory);
                            ctx.token.record(Ok(()));
                            req.extensions_mut().insert(ctx);
                            inner.call(req).await?
                        }
                        (Some(ticket), Some(role)) => {
                            // A person's token is checked by the call's
                            // first transaction; the answer waits for the
                            // outcome.
                            let deferred = ctx.clone();
                            req.extensions_mut().insert(ctx);
                            let response = inner.call(req).await?;
                            let outcome = match deferred.token.outcome() {
                                Some(Ok(())) => {
                                    metrics.token_verdict(TokenVerdict::Database);
                                    verdicts.good(ticket);
                                    Ok(())
                                }
                                Some(Err(refusal)) => {
                                    metrics.token_verdict(TokenVerdict::Database);
                                    Err(refusal.status(role))
                                }
                                // No transaction on the primary checked it.
                                None => alone.check(ticket, &deferred).await,
                            };
                            if let Err(status) = outcome {
                                return Ok(status.into_http());
                            }
                            response
                        }
                        (Some(ticket), None) => {
                            if let Err(status) = alone.check(ticket, &ctx).await {
                                return Ok(status.into_http());
                            }
                            req.extensions_mut().insert(ctx);
                            inner.call(req).await?
                        }
                    };
                    if writes_identity {
                        // Answered only once no verdict of this replica
                        // predates the write.
                        verdicts.forget_all();
                    }
                    Ok(response)
                })
            }
            Ok(None) if writes_identity => {
                // A public identity write (RefreshToken) forgets too.
                let verdicts = self.verdicts.clone();
                Box::pin(async move {
                    let response = inner.call(req).await?;
                    verdicts.forget_all();
                    Ok(response)
                })
            }
            Ok(None) => Box::pin(inner.call(req)),
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

/// What a token check on a connection of its own needs: services are
/// checked so, and people whose call opened no transaction on the primary.
struct Alone<'a> {
    pool: &'a PgPool,
    verdicts: &'a Arc<Verdicts>,
    metrics: &'a Metrics,
}

impl Alone<'_> {
    /// Checks the token, or waits for the check of the same token that
    /// is in flight (see [`Verdicts::join`]); keeps a good verdict.
    async fn check(&self, ticket: Ticket, ctx: &AuthContext) -> Result<(), Status> {
        let lead = match self.verdicts.join(ticket) {
            Join::Lead(lead) => lead,
            Join::Follow(follower) => {
                if follower.good().await {
                    self.metrics.token_verdict(TokenVerdict::Shared);
                    ctx.token.record(Ok(()));
                    return Ok(());
                }
                // The shared check did not find it good (or was voided):
                // this call's own check decides, unshared.
                Lead::alone(self.verdicts, ticket)
            }
        };
        self.metrics.token_verdict(TokenVerdict::Database);
        still_valid(self.pool, ctx).await?;
        lead.good();
        Ok(())
    }
}

/// The whole decision for one call: `Ok(None)` for public methods,
/// `Ok(Some(caller))` when allowed, else the status to answer.
pub fn authorize(
    keys: &TokenKeys,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<AuthContext>, Status> {
    let Some(access) = policy_for(path) else {
        // Deny by default: a method nobody declared a policy for is closed.
        return Err(Status::permission_denied(format!(
            "no access policy is declared for {path}"
        )));
    };
    if matches!(access, Access::Public) {
        return Ok(None);
    }
    let token = bearer_token(headers)?;
    let claims = keys
        .verify(token)
        .map_err(|err| Status::unauthenticated(err.to_string()))?;
    let principal = principal_of(&claims, headers)?;
    if !access.allows(&principal) {
        return Err(Status::permission_denied(denial_message(&principal, path)));
    }
    Ok(Some(AuthContext {
        principal,
        claims,
        token: Default::default(),
    }))
}

/// The token's database check on a connection of its own (services, and
/// people whose call opened no transaction on the primary).
async fn still_valid(pool: &PgPool, ctx: &AuthContext) -> Result<(), Status> {
    let mut conn = db::Lease::get(pool).await.map_err(|err| {
        if db::pool_busy(&err) {
            Status::resource_exhausted(db::POOL_BUSY)
        } else {
            Status::unavailable("cannot check the token: database unavailable; retry")
        }
    })?;
    let verdict = token_verdict(&mut conn, ctx).await;
    // Only a check cut off midway (the call was dropped) closes it.
    conn.finish();
    verdict
}

async fn token_verdict(
    conn: &mut diesel_async::AsyncPgConnection,
    ctx: &AuthContext,
) -> Result<(), Status> {
    let failed = |err: diesel::result::Error| {
        tracing::warn!(error = %err, "token status lookup failed");
        Status::unavailable("cannot check the token: database unavailable; retry")
    };
    match &ctx.principal {
        Principal::Service { .. } => {
            if db::auth::is_revoked(conn, ctx.claims.jti)
                .await
                .map_err(failed)?
            {
                return Err(Status::unauthenticated("token revoked"));
            }
            Ok(())
        }
        Principal::User {
            user_id,
            org_id,
            role,
            ..
        } => {
            let reason =
                db::auth::token_refusal(conn, *user_id, ctx.claims.jti, *org_id, role.as_str())
                    .await
                    .map_err(failed)?;
            let Some(reason) = reason else {
                ctx.token.record(Ok(()));
                return Ok(());
            };
            let Some(refused) = Refusal::named(&reason) else {
                // A reason this build does not know (a newer migration):
                // still a refusal.
                tracing::warn!(reason, "unknown token refusal");
                return Err(Status::unauthenticated("the token no longer works"));
            };
            ctx.token.record(Err(refused));
            Err(refused.status(*role))
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, Status> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token> metadata"))?;
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization metadata is not valid ASCII"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Status::unauthenticated("authorization metadata must be `Bearer <token>`"))
}

fn principal_of(claims: &Claims, headers: &HeaderMap) -> Result<Principal, Status> {
    if let Some(name) = claims.sub.strip_prefix("service:") {
        if headers.contains_key(ROLE_HEADER) {
            return Err(Status::permission_denied(
                "service tokens act under scopes, not roles; drop x-stride-role",
            ));
        }
        return Ok(Principal::Service {
            name: name.to_string(),
            org_id: claims.org_id,
            scopes: claims.scopes(),
        });
    }
    let user_id = Uuid::parse_str(&claims.sub)
        .map_err(|_| Status::unauthenticated("token subject is not a user id"))?;
    let org_id = claims
        .org_id
        .ok_or_else(|| Status::unauthenticated("token has no org_id claim"))?;
    let roles = claims.held_roles();
    let role = active_role(claims, &roles, headers)?;
    Ok(Principal::User {
        user_id,
        org_id,
        role,
        roles,
    })
}

/// The role a request acts under: `x-stride-role` if sent, else the role
/// chosen at login, else the least privileged role held.
fn active_role(claims: &Claims, held: &HashSet<Role>, headers: &HeaderMap) -> Result<Role, Status> {
    let requested = match headers.get(ROLE_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<Role>().ok())
                .ok_or_else(|| {
                    Status::invalid_argument(
                        "x-stride-role must be one of learner, trainer, org_admin, platform_admin",
                    )
                })?,
        ),
        None => claims.role.as_deref().and_then(|r| r.parse::<Role>().ok()),
    };
    match requested {
        Some(role) if held.contains(&role) => Ok(role),
        Some(role) => Err(Status::permission_denied(format!(
            "the active role {role} is not one the caller holds"
        ))),
        None => held
            .iter()
            .min()
            .copied()
            .ok_or_else(|| Status::permission_denied("the token holds no role")),
    }
}

fn denial_message(principal: &Principal, path: &str) -> String {
    match principal {
        Principal::User { role, .. } => format!("role {role} may not call {path}"),
        Principal::Service { name, .. } => {
            format!("service {name} lacks the scope required for {path}")
        }
    }
}
