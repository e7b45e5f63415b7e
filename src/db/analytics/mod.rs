//! The reads (and the few writes) of the analytics, family by family: each
//! function runs one query and returns named rows; `api::analytics` applies
//! the rules of `domain::analytics` to them and maps the result.

pub mod cache;
pub mod comparison;
pub mod course;
pub mod history;
pub mod learner;
pub mod organization;
pub mod people;
pub mod predictive;
pub mod subject;
