//! The queries of `api::analytics::learner`.
