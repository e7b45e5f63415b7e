//! `stride.identity.v1.IdentityService`.

mod data_rights;
mod mapping;
mod service;
mod sessions;

pub use service::IdentityApi;
