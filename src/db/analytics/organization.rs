//! The queries of `api::analytics::organization`.
