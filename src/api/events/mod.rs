//! `stride.events.v1.EventService`.

mod service;

pub use service::EventApi;
