//! One request = one transaction that first tells PostgreSQL who is asking.
//!
//! [`in_tenant`] opens the transaction and sets `stride.user_id`,
//! `stride.org_id` and `stride.role` with `set_config(..., true)` (local to
//! the transaction, so a pooled connection never leaks an identity to the
//! next request). Row-level security policies read them: a query that slips
//! past a service-layer check still sees only what the caller may see.

use diesel::sql_types::Text;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::auth::{Principal, Role};

/// The identity a transaction runs under, as the policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbIdentity {
    pub user_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    /// learner, trainer, org_admin, platform_admin or service.
    pub role: &'static str,
}

impl DbIdentity {
    /// A person acting under `role`.
    pub fn user(user_id: Uuid, org_id: Uuid, role: Role) -> Self {
        Self {
            user_id: Some(user_id),
            org_id: Some(org_id),
            role: role.as_str(),
        }
    }

    /// An upstream service; `org_id` `None` for platform-scoped tokens.
    pub fn service(org_id: Option<Uuid>) -> Self {
        Self {
            user_id: None,
            org_id,
            role: "service",
        }
    }
}

impl DbIdentity {
    /// The analytics reader of one organization (`None`: platform-wide
    /// rows only): reads that organization's data and keeps its cached
    /// answers, after the caller's own access to the subject was checked.
    pub fn analytics(org_id: Option<Uuid>) -> Self {
        Self {
            user_id: None,
            org_id,
            role: "analytics",
        }
    }

    /// An operator's command line tool: platform-wide, no person.
    pub fn operator() -> Self {
        Self {
            user_id: None,
            org_id: None,
            role: "platform_admin",
        }
    }
}

impl From<&Principal> for DbIdentity {
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::User {
                user_id,
                org_id,
                role,
                ..
            } => Self::user(*user_id, *org_id, *role),
            Principal::Service { org_id, .. } => Self::service(*org_id),
        }
    }
}

/// Sets the identity for the current transaction (must be inside one).
pub async fn set_identity(
    conn: &mut AsyncPgConnection,
    identity: &DbIdentity,
) -> diesel::QueryResult<()> {
    let text = |id: Option<Uuid>| id.map(|u| u.to_string()).unwrap_or_default();
    diesel::sql_query(
        "SELECT set_config('stride.user_id', $1, true), \
                set_config('stride.org_id', $2, true), \
                set_config('stride.role', $3, true)",
    )
    .bind::<Text, _>(text(identity.user_id))
    .bind::<Text, _>(text(identity.org_id))
    .bind::<Text, _>(identity.role)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Runs `work` in one transaction under `identity`: commits when it returns
/// `Ok`, rolls back otherwise.
pub async fn in_tenant<T, E>(
    conn: &mut AsyncPgConnection,
    identity: &DbIdentity,
    work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    transaction(conn, identity, false, work).await
}

/// [`in_tenant`] in a READ ONLY transaction: for reads that may run on a
/// streaming replica, so that a write slipping into one fails in every
/// test, with or without a replica.
pub async fn in_tenant_read_only<T, E>(
    conn: &mut AsyncPgConnection,
    identity: &DbIdentity,
    work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    transaction(conn, identity, true, work).await
}

async fn transaction<T, E>(
    conn: &mut AsyncPgConnection,
    identity: &DbIdentity,
    read_only: bool,
    work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    AnsiTransactionManager::begin_transaction(conn).await?;
    let mut ready = Ok(());
    if read_only {
        ready = diesel::sql_query("SET TRANSACTION READ ONLY")
            .execute(conn)
            .await
            .map(|_| ());
    }
    if ready.is_ok() {
        ready = set_identity(conn, identity).await;
    }
    let result = match ready {
        Ok(()) => work(conn).await,
        Err(err) => Err(E::from(err)),
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(err) => {
            // The work's error is the one worth reporting; a failed rollback
            // leaves the connection broken, and the pool discards it.
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            Err(err)
        }
    }
}
