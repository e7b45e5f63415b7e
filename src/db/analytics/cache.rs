//! The queries of `api::analytics::cache`.
