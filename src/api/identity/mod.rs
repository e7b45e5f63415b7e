//! `stride.identity.v1.IdentityService`.

mod mapping;
mod service;

pub use service::IdentityApi;
