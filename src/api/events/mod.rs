//! `stride.events.v1.EventService`.

pub mod catalog;
mod coalesce;
pub mod convert;
pub mod ingest;
mod service;
mod slots;
mod xapi;

pub use ingest::Ingestion;
pub use service::EventApi;
