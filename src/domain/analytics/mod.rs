//! The rules of the 19 analytics (SPEC "Analytics (19)" and "Precise
//! definitions"): formulas, thresholds, k-anonymity. Pure functions over
//! figures the database layer loads; the service composes the answers.

pub mod course;
pub mod gaps;
pub mod kind;
pub mod learner;
pub mod organization;
pub mod predictive;
pub mod stats;

pub use kind::{Audience, Kind};

/// The smallest group whose aggregate may be shown (k-anonymity): a group
/// of exactly 10 is shown, 9 is suppressed.
pub const K_ANONYMITY: usize = 10;

/// Whether an aggregate over `people` may be returned.
pub fn shown(people: usize) -> bool {
    people >= K_ANONYMITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_of_exactly_ten_is_shown_nine_is_not() {
        assert!(shown(10));
        assert!(!shown(9));
        assert!(!shown(0));
    }
}
