//! The queries of `api::analytics::comparison`.
