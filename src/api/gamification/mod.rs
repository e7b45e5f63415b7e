//! `stride.gamification.v1.GamificationService`.

mod leaderboard;
mod mapping;
mod profile;
mod recompute;
mod service;

pub use service::GamificationApi;
