//! Authentication and authorization: tokens, roles, the per-RPC policy and
//! the tower layer that enforces it.

pub mod context;
pub mod jwt;
pub mod layer;
pub mod password;
pub mod policy;
pub mod token_check;
pub mod verdicts;

pub use crate::domain::role::{Role, Scope};
pub use context::{AuthContext, Principal, TokenAssertion};
pub use jwt::{Claims, Subject, TokenError, TokenKeys};
pub use layer::AuthLayer;
