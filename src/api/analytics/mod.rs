//! `stride.analytics.v1.AnalyticsService`: the 19 analytics. `handlers`
//! resolves each request's subject under the caller, `cache` serves it
//! (cached with a TTL, computed once per cold entry), and the family
//! modules compute it from the stored data with the rules of
//! `domain::analytics`.

mod cache;
mod comparison;
mod course;
mod handlers;
mod history;
mod learner;
mod organization;
mod predictive;
mod service;
mod subject;

pub use cache::Flights;
pub use history::{RECORDED as HISTORY_KINDS, record_job as record_history};
pub use service::AnalyticsApi;
