//! The verified caller, as handlers see it (from request extensions).

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::jwt::Claims;
use super::role::{Role, Scope};
use super::token_check::TokenCheck;

/// Who is calling, after the token was verified and the active role chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person acting under one active role they hold.
    User {
        user_id: Uuid,
        org_id: Uuid,
        role: Role,
        roles: HashSet<Role>,
    },
    /// An upstream microservice; `org_id` is `None` for platform-scoped ones.
    Service {
        name: String,
        org_id: Option<Uuid>,
        scopes: HashSet<Scope>,
    },
}

impl Principal {
    /// The tenant the caller belongs to (`None`: platform-scoped service).
    pub fn org_id(&self) -> Option<Uuid> {
        match self {
            Principal::User { org_id, .. } => Some(*org_id),
            Principal::Service { org_id, .. } => *org_id,
        }
    }

    /// The role a person acts under (`None`: a service).
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } => Some(*role),
            Principal::Service { .. } => None,
        }
    }
}

/// Inserted into every authenticated request's extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub principal: Principal,
    pub claims: Claims,
    /// The token's database check, shared by every clone of this context.
    pub token: Arc<TokenCheck>,
}

/// A person's token whose database check is still to run: what
/// `stride_assert_token` is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenAssertion {
    pub user_id: Uuid,
    pub jti: Uuid,
    pub org_id: Uuid,
    pub role: Role,
}

impl AuthContext {
    /// The tenant the caller belongs to (`None`: platform-scoped service).
    pub fn org_id(&self) -> Option<Uuid> {
        self.principal.org_id()
    }

    /// What the next transaction on the primary should assert about the
    /// token: `None` for services (checked before the call) and once the
    /// check has run.
    pub fn pending_assertion(&self) -> Option<TokenAssertion> {
        if self.token.outcome().is_some() {
            return None;
        }
        self.assertion()
    }

    /// What a person's token check reads from the token (`None`: a service
    /// token, checked by its id alone).
    pub fn assertion(&self) -> Option<TokenAssertion> {
        match &self.principal {
            Principal::User {
                user_id,
                org_id,
                role,
                ..
            } => Some(TokenAssertion {
                user_id: *user_id,
                jti: self.claims.jti,
                org_id: *org_id,
                role: *role,
            }),
            Principal::Service { .. } => None,
        }
    }
}
