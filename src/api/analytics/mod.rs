//! `stride.analytics.v1.AnalyticsService`.

mod service;

pub use service::AnalyticsApi;
