//! `stride.events.v1.EventService`.

pub mod ingest;
mod service;

pub use ingest::Ingestion;
pub use service::EventApi;
