//! Gamification rules (SPEC "Gamification"), pure: levels, the daily cap,
//! the ledger's day split, streaks, periods and achievement criteria.

pub mod achievements;
pub mod boards;
pub mod cap;
pub mod engine;
pub mod ledger;
pub mod levels;
pub mod periods;
pub mod standing;
pub mod streaks;
