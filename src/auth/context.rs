//! The verified caller, as handlers see it (from request extensions).

use std::sync::Arc;

use uuid::Uuid;

use super::jwt::Claims;
use super::token_check::TokenCheck;
pub use crate::domain::caller::{Principal, TokenAssertion};

/// Inserted into every authenticated request's extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub principal: Principal,
    pub claims: Claims,
    /// The token's database check, shared by every clone of this context.
    pub token: Arc<TokenCheck>,
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
