//! The SPEC's thresholds, each defined once: everything that asks "is
//! this mastered?" or "did this pass?" reads it here. (The database's
//! generated `assessments.passed` column repeats the pass mark in SQL; a
//! test keeps the two equal.)

/// A skill at or above this mastery is mastered; also the mastery a course
/// or job role requires when it names none.
pub const MASTERY: f64 = 80.0;

/// [`MASTERY`] as the catalogue stores a required mastery (whole points).
pub const REQUIRED_MASTERY: i16 = MASTERY as i16;

/// An assessment at or above this score passes.
pub const PASS_MARK: f64 = 70.0;
