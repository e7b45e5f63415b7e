//! The gRPC services. Each module has `service.rs` (the tonic trait impl,
//! thin handlers) and `mapping.rs` (proto <-> domain). Errors go through
//! [`error::ApiError`].

pub mod analytics;
pub mod error;
pub mod events;
pub mod gamification;
pub mod identity;

use std::sync::Arc;

use tonic::Request;

use crate::auth::{AuthContext, TokenKeys};
use crate::db::PgPool;
pub use analytics::AnalyticsApi;
pub use error::ApiError;
pub use events::EventApi;
pub use gamification::GamificationApi;
pub use identity::IdentityApi;

/// Handles every service shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub keys: Arc<TokenKeys>,
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
