//! Gamification rules (SPEC "Gamification"), pure: levels, the daily cap.

pub mod cap;
pub mod levels;
