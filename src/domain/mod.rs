//! Pure rules: no I/O, unit-tested beside the code.

pub mod access;
pub mod analytics;
pub mod caller;
pub mod derive;
pub mod events;
pub mod fields;
pub mod gamification;
pub mod references;
pub mod role;
pub mod thresholds;
pub mod violation;
pub mod xapi;
pub mod zone;

#[cfg(test)]
mod properties;

pub use violation::{FieldViolation, has_nul};
