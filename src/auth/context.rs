//! The verified caller, as handlers see it (from request extensions).

use std::collections::HashSet;

use uuid::Uuid;

use super::jwt::Claims;
use super::role::{Role, Scope};

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
}

/// Inserted into every authenticated request's extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub principal: Principal,
    pub claims: Claims,
}

impl AuthContext {
    /// The tenant the caller belongs to (`None`: platform-scoped service).
    pub fn org_id(&self) -> Option<Uuid> {
        self.principal.org_id()
    }
}
