//! Proto <-> domain conversions for the identity service.

use crate::auth::{AuthContext, Principal};
use crate::proto::identity::v1::WhoAmIResponse;

/// The verified claims of the caller, as WhoAmI reports them.
pub fn who_am_i(ctx: &AuthContext) -> WhoAmIResponse {
    let (active_role, mut roles, mut scopes) = match &ctx.principal {
        Principal::User { role, roles, .. } => (
            role.as_str().to_string(),
            roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect::<Vec<_>>(),
            Vec::new(),
        ),
        Principal::Service { scopes, .. } => (
            String::new(),
            Vec::new(),
            scopes
                .iter()
                .map(|s| s.as_str().to_string())
                .collect::<Vec<_>>(),
        ),
    };
    roles.sort();
    scopes.sort();
    WhoAmIResponse {
        subject: ctx.claims.sub.clone(),
        organization_id: ctx.org_id().map(|o| o.to_string()).unwrap_or_default(),
        roles,
        active_role,
        scopes,
        token_id: ctx.claims.jti.to_string(),
        expires_at: Some(prost_types::Timestamp {
            seconds: ctx.claims.exp,
            nanos: 0,
        }),
    }
}
