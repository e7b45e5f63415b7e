//! One module per table: `New<Name>` insert structs (and, as RPCs need them,
//! read structs and queries), checked against `schema.rs` at compile time.
//! The tables ingestion derives (daily activity, skills, assessments) are
//! written only by `db::ingest`, which keeps its row types beside the SQL.

pub mod course;
pub mod department;
pub mod enrollment;
pub mod learning_event;
pub mod learning_path;
pub mod organization;
pub mod preferences;
pub mod skill;
pub mod user;
