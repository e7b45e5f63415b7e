//! The queries of `api::analytics::subject`.
