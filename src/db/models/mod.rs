//! One module per table: `New<Name>` insert structs (and, as RPCs need them,
//! read structs and queries), checked against `schema.rs` at compile time.

pub mod assessment;
pub mod course;
pub mod daily_activity;
pub mod department;
pub mod enrollment;
pub mod learning_event;
pub mod learning_path;
pub mod organization;
pub mod preferences;
pub mod skill;
pub mod user;
pub mod user_skill;
