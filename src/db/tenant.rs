//! One request = one transaction that first tells PostgreSQL who is asking.
//!
//! [`transaction`] opens the transaction and sets `stride.user_id`,
//! `stride.org_id` and `stride.role` with `set_config(..., true)` (local to
//! the transaction, so a pooled connection never leaks an identity to the
//! next request). Row-level security policies read them: a query that slips
//! past a service-layer check still sees only what the caller may see.

use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::domain::caller::{Principal, Refusal, TokenAssertion};
use crate::domain::role::Role;

/// The identity a transaction runs under, as the policies see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// The prefix of the message `stride_assert_token` raises.
const RAISED: &str = "stride_token:";

/// The refusal a database error carries, if it is one.
pub fn refusal_in(err: &diesel::result::Error) -> Option<Refusal> {
    let diesel::result::Error::DatabaseError(_, info) = err else {
        return None;
    };
    Refusal::named(info.message().strip_prefix(RAISED)?)
}

/// Sets the identity for the current transaction (must be inside one).
pub async fn set_identity(
    conn: &mut AsyncPgConnection,
    identity: &DbIdentity,
) -> diesel::QueryResult<()> {
    conn.batch_execute(&identity_sql(identity)?).await
}

/// The statement that sets `identity` for the transaction, with the values
/// inlined (so that it can share a simple query with `BEGIN`). Only what
/// cannot break out of a quoted literal is accepted: UUIDs (hex and
/// dashes) and a role of lowercase letters and underscores.
fn identity_sql(identity: &DbIdentity) -> diesel::QueryResult<String> {
    if !identity
        .role
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("role {:?} is not a plain name", identity.role).into(),
        ));
    }
    let text = |id: Option<Uuid>| id.map(|u| u.hyphenated().to_string()).unwrap_or_default();
    Ok(format!(
        "SELECT set_config('stride.user_id', '{}', true), \
         set_config('stride.org_id', '{}', true), set_config('stride.role', '{}', true)",
        text(identity.user_id),
        text(identity.org_id),
        identity.role
    ))
}

/// `BEGIN` (READ ONLY when asked), the token assertion when one is due,
/// and the identity's settings as one simple query: one round trip opens
/// the transaction, checks the token and says who asks.
fn begin_sql(
    identity: &DbIdentity,
    read_only: bool,
    assertion: Option<&TokenAssertion>,
) -> diesel::QueryResult<String> {
    let mode = if read_only { " READ ONLY" } else { "" };
    // UUIDs and a role name: nothing that can leave its literal.
    let assert = assertion.map_or(String::new(), |a| {
        format!(
            " SELECT stride_assert_token('{}', '{}', '{}', '{}');",
            a.user_id.hyphenated(),
            a.jti.hyphenated(),
            a.org_id.hyphenated(),
            a.role.as_str()
        )
    });
    Ok(format!("BEGIN{mode};{assert} {}", identity_sql(identity)?))
}

/// Where the outcome of a token check run with BEGIN goes.
pub type Checked<'a> = &'a (dyn Fn(Result<(), Refusal>) + Send + Sync);

/// How a transaction opens: under whom, whether READ ONLY, and a person's
/// token check to run in the same round trip (with where its outcome goes).
pub struct Begin<'a> {
    pub identity: &'a DbIdentity,
    pub read_only: bool,
    pub assertion: Option<(TokenAssertion, Checked<'a>)>,
}

impl<'a> Begin<'a> {
    /// A read-write transaction under `identity`, no token check.
    pub fn writing(identity: &'a DbIdentity) -> Self {
        Self {
            identity,
            read_only: false,
            assertion: None,
        }
    }

    /// A READ ONLY transaction under `identity`: for reads that may run on
    /// a streaming replica, so that a write slipping into one fails in
    /// every test, with or without a replica.
    pub fn reading(identity: &'a DbIdentity) -> Self {
        Self {
            read_only: true,
            ..Self::writing(identity)
        }
    }
}

/// The one door into a transaction: opens it as `begin` says (one round
/// trip), runs `work`, commits when it returns `Ok`, rolls back otherwise.
pub async fn transaction<T, E>(
    conn: &mut AsyncPgConnection,
    begin: Begin<'_>,
    work: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let assertion = begin.assertion.as_ref().map(|(a, _)| a);
    let sql = begin_sql(begin.identity, begin.read_only, assertion).map_err(E::from)?;
    // One round trip opens the transaction and sets who asks.
    let opened = AnsiTransactionManager::begin_transaction_sql(conn, &sql).await;
    if let Some((_, checked)) = begin.assertion {
        match &opened {
            Ok(()) => checked(Ok(())),
            Err(err) => {
                if let Some(refused) = refusal_in(err) {
                    checked(Err(refused));
                }
            }
        }
    }
    if let Err(err) = opened {
        // BEGIN may have run before the identity failed: close it, so the
        // connection is not left inside a transaction diesel does not know.
        let _ = conn.batch_execute("ROLLBACK").await;
        return Err(E::from(err));
    }
    let result = work(conn).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_reason_is_read_back_and_anything_else_is_not() {
        use diesel::result::{DatabaseErrorKind, Error};
        let raised =
            |msg: &str| Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(msg.to_string()));
        for r in Refusal::ALL {
            let err = raised(&format!("stride_token:{}", r.as_str()));
            assert_eq!(refusal_in(&err), Some(r));
        }
        assert_eq!(refusal_in(&raised("stride_token:other")), None);
        assert_eq!(refusal_in(&raised("permission denied")), None);
        assert_eq!(refusal_in(&Error::NotFound), None);
    }

    #[test]
    fn the_begin_statement_carries_the_identity_and_the_access_mode() {
        let user = Uuid::from_u128(1);
        let org = Uuid::from_u128(2);
        let sql = begin_sql(&DbIdentity::user(user, org, Role::Trainer), true, None).unwrap();
        assert!(sql.starts_with("BEGIN READ ONLY; SELECT "), "{sql}");
        assert!(sql.contains(&format!("'stride.user_id', '{user}', true")));
        assert!(sql.contains(&format!("'stride.org_id', '{org}', true")));
        assert!(sql.contains("'stride.role', 'trainer', true"));
        let sql = begin_sql(&DbIdentity::service(None), false, None).unwrap();
        assert!(sql.starts_with("BEGIN; SELECT "), "{sql}");
        assert!(sql.contains("'stride.user_id', '', true"));
        assert!(!sql.contains("stride_assert_token"), "{sql}");
    }

    #[test]
    fn a_due_token_check_is_asserted_before_the_identity_is_set() {
        let (user, org, jti) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let assertion = TokenAssertion {
            user_id: user,
            jti,
            org_id: org,
            role: Role::Learner,
        };
        let identity = DbIdentity::user(user, org, Role::Learner);
        let sql = begin_sql(&identity, false, Some(&assertion)).unwrap();
        assert!(
            sql.starts_with(&format!(
                "BEGIN; SELECT stride_assert_token('{user}', '{jti}', '{org}', 'learner'); SELECT set_config("
            )),
            "{sql}"
        );
    }

    #[test]
    fn a_role_that_could_leave_its_literal_is_refused() {
        let bad = DbIdentity {
            user_id: None,
            org_id: None,
            role: "x', true); DROP TABLE users; --",
        };
        assert!(begin_sql(&bad, false, None).is_err());
    }
}
