//! `stride.gamification.v1.GamificationService`.

mod board;
mod hub;
mod leaderboard;
mod mapping;
mod profile;
mod recompute;
mod service;
mod snapshots;
mod watch;

pub use hub::BoardHub;
pub use recompute::differences_of;
pub use service::GamificationApi;
