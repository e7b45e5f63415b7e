//! `stride.gamification.v1.GamificationService`.

mod leaderboard;
mod mapping;
mod profile;
mod recompute;
mod service;
mod watch;

pub use recompute::differences_of;
pub use service::GamificationApi;
pub use watch::BoardHub;
