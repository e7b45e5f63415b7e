//! `stride.identity.v1.IdentityService`.

mod mapping;
mod service;
mod sessions;

pub use service::IdentityApi;
