//! The queries of `api::analytics::history`.
