//! The queries of `api::analytics::course`.
