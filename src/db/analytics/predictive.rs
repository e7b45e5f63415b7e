//! The queries of `api::analytics::predictive`.
